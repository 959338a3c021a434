// A web process: answers every request on $PORT with a greeting naming the app.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	app := os.Getenv("DEIS_APP")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from Go %s\n", app)
	})
	addr := "0.0.0.0:" + os.Getenv("PORT")
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
