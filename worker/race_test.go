//go:build race

package main

// raceEnabled: the worker binary under test is built with -race too.
const raceEnabled = true
