//go:build tools

// Package tools pins Traefik, the ingress controller of the one-node cluster that
// scripts/kube/node-build.sh builds. A wrapper module, because Traefik's own go.mod replaces
// modules with its forks, which `go install module@version` refuses.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
