// Package guest holds tests that only make sense inside a vmtest guest
// (Debian's kernel with IPVS, under qemu): vmtest.Run builds them with
// `go test -c` and runs them there; TestGuest in internal/vmtest is the
// host side. Outside a guest every test skips (vmtest.NeedVM), so plain
// `go test ./...` passes; `make test-unit` leaves the package out anyway.
package guest
