module github.com/sshpool/sshpool/bench

go 1.26.0

require (
	github.com/jackc/puddle/v2 v2.2.4
	github.com/open-feature/go-sdk v1.20.0
	github.com/sshpool/sshpool v0.0.0
	golang.org/x/crypto v0.59.0
)

require (
	github.com/agnivade/levenshtein v1.2.2 // indirect
	github.com/barkimedes/go-deepcopy v0.0.0-20220514131651-17c30cfc62df // indirect
	github.com/diegoholiveira/jsonlogic/v3 v3.5.1 // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/twmb/murmur3 v1.2.2 // indirect
	go.uber.org/mock v0.6.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/sshpool/sshpool => ../
