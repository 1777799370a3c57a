//go:build race

package main

// raceEnabled: built with -race, where a TLS handshake costs several times
// the CPU.
const raceEnabled = true
