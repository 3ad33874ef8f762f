module parley.local/kube/pause

go 1.26.0
