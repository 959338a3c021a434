// Package greeting is a vendored dependency: GOPATH builds take it from vendor/.
package greeting

import "fmt"

// For says hello on behalf of the app.
func For(app string) string { return fmt.Sprintf("Hello from Go %s (GOPATH build)\n", app) }
