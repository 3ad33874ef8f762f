// Command etcd is etcd v3.7 built from the Go module proxy: the server module's own main package
// needs its repository's `../` replaces, so this wrapper pins every etcd module at one release and
// calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
