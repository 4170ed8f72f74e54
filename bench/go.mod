module github.com/sshpool/sshpool/bench

go 1.26.0

require (
	github.com/jackc/puddle/v2 v2.2.3
	github.com/sshpool/sshpool v0.0.0
	golang.org/x/crypto v0.59.0
)

require (
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/sshpool/sshpool => ../
