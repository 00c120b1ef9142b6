// Command broken does not compile: the image package's tests check that the compiler's message
// reaches the error.
package main

func main() {
	var n int = "not a number"
	_ = n
}
