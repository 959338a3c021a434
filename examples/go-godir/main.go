// A legacy GOPATH app (.godir): no go.mod; its import path comes from .godir.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"example.com/greeting"
)

func main() {
	app := os.Getenv("DEIS_APP")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, greeting.For(app))
	})
	log.Fatal(http.ListenAndServe("0.0.0.0:"+os.Getenv("PORT"), nil))
}
