// Package vmtest runs Go tests inside a qemu guest that boots Debian's
// kernel, for code that needs kernel features this machine lacks (IPVS
// above all). A host test calls Run; Run builds the guest test package
// with `go test -c`, packs it into an initramfs with busybox, iproute2's
// ip, ipvsadm and the kernel modules IPVS and the namespace lab need,
// boots the kernel under qemu with no network card, streams the serial
// console into the test log and turns every guest test into a host
// subtest of the same name.
//
//	func TestGuest(t *testing.T) {
//		vmtest.Run(t, vmtest.Options{
//			TestPackage: "github.com/tandemlb/tandem/internal/vmtest/guest",
//			Binaries:    map[string]string{"/usr/sbin/tandem": vmtest.BuildTandem(t)},
//		})
//	}
//
// The kernel is prepared once and cached (see CacheDir): `apt-cache depends
// linux-image-amd64` names the ABI package, `apt-get download` fetches it,
// `dpkg-deb -x` unpacks it (it is never installed), `depmod -b` indexes its
// modules, and the ELF vmlinux is taken out of the bzImage so that qemu
// boots it directly through PVH.
//
// Guest tests run with TANDEM_IN_VM=1 (see InVM and NeedVM) in a guest
// whose root namespace has only lo; every host of a test lives in a
// network namespace inside the guest.
//
// Missing prerequisites (qemu-system-x86_64, busybox-static, ipvsadm, kmod,
// xz, the kernel package) skip the test, or fail it under
// TANDEM_TEST_STRICT=1 (testenv.Need).
package vmtest
