package sshconn_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/sshconn"
)

// TestSSHConfigRandomOracle is the ssh -G oracle on generated
// configurations: a seeded generator (cfgGen) writes ssh_config files
// and two Include files from a grammar of Host and Match blocks, every
// keyword sshconn applies (with tokens, ~, ${VAR}, quoting, comments) and
// syntax edge cases (cfgGen.edge), and each host is resolved with ssh -G
// and SSHConfig and compared as in TestSSHConfigMatchesSSH; when one
// refuses the configuration the other must refuse it too. It runs 100
// configurations by default;
//
//	SSHPOOL_ORACLE_CONFIGS=2000 SSHPOOL_ORACLE_SEED=7 go test -run TestSSHConfigRandomOracle ./sshconn/
//
// runs more, from another seed. Outcomes that differ by design are not
// counted: a ProxyJump loop (ssh -G does not follow the chain; ssh would
// recurse when connecting), a hop ssh -G also refuses (the ssh that would
// reach it fails), and "ProxyJump none # comment" (ssh 9.2 jumps through
// a host named none; see TestSSHConfigDeliberateOutcomes).
func TestSSHConfigRandomOracle(t *testing.T) {
	needSSH(t)
	n, seed := 100, uint64(1)
	if v := os.Getenv("SSHPOOL_ORACLE_CONFIGS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("SSHPOOL_ORACLE_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var stats oracleStats
	failed := 0
	for i := 0; i < n && failed < 10; i++ {
		g := &cfgGen{r: rng}
		files, hosts := g.files(), g.hosts()
		ok := t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newOracleEnv(t, files)
			for _, key := range hosts {
				stats.hosts++
				stats.keywords += e.compareRandom(filepath.Join(e.dir, "config"), key)
			}
		})
		if !ok {
			failed++
			names := make([]string, 0, len(files))
			for name := range files {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				t.Logf("configuration %d, %s:\n%s", i, name, files[name])
			}
		}
	}
	t.Logf("ssh -G oracle, seed %d: %d generated configurations, %d hosts, %d keyword values compared", seed, n, stats.hosts, stats.keywords)
}

// compareRandom resolves key with ssh -G and SSHConfig and compares them;
// it returns the number of keyword values compared.
func (e *oracleEnv) compareRandom(config, key string) int {
	t := e.t
	want, sshErr := e.sshG(sshGArgs(config, key)...)
	got, err := e.resolver(config).Resolve(context.Background(), key)
	switch {
	case sshErr != nil && err != nil:
		return 0
	case err != nil && errors.Is(err, sshconn.ErrJumpLoop):
		return 0
	case err != nil && e.hopRefused(config, err):
		return 0
	case sshErr != nil || err != nil:
		t.Errorf("%s: ssh -G: %v; SSHConfig: %v", key, sshErr, err)
		return 0
	case strings.EqualFold(first(want["proxyjump"]), "none"):
		return 0
	}
	return e.compareTarget(config, key, got, want)
}

// hopRE finds the jump hop an SSHConfig error is about.
var hopRE = regexp.MustCompile(`ProxyJump "([^"]+)"`)

// hopRefused reports whether err is about a jump hop that ssh -G refuses
// too.
func (e *oracleEnv) hopRefused(config string, err error) bool {
	m := hopRE.FindStringSubmatch(err.Error())
	if m == nil {
		return false
	}
	_, herr := e.sshG(sshGArgs(config, m[1])...)
	return herr != nil
}

// sshGArgs are ssh -G's arguments for key ("[user@]host[:port]").
func sshGArgs(config, key string) []string {
	u, host, port := splitHop(key)
	args := []string{"-F", config}
	if u != "" {
		args = append(args, "-l", u)
	}
	if port != "" {
		args = append(args, "-p", port)
	}
	return append(args, host)
}

// cfgGen generates ssh_config text from a grammar, with r.
type cfgGen struct{ r *rand.Rand }

// pick returns one of s.
func (g *cfgGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// genHosts are the hosts resolved; the patterns are written for them.
var genHosts = []string{"web1", "web12", "web9", "db.example.com", "WEB1", "10.0.0.1", "alias", "bastion", "hop", "x"}

// hosts returns one to three keys, some with a user or a port.
func (g *cfgGen) hosts() []string {
	var out []string
	for range 1 + g.r.IntN(3) {
		h := g.pick(genHosts...)
		if g.r.IntN(5) == 0 {
			h = g.pick("bob", "root", "deploy") + "@" + h
		}
		if g.r.IntN(6) == 0 {
			h += ":" + g.pick("2022", "22", "1")
		}
		out = append(out, h)
	}
	return out
}

// pattern returns a host pattern.
func (g *cfgGen) pattern() string {
	p := g.pick("*", "web?", "web*", "web??", "!web9", "*.example.com", "alias", "10.*", "WEB*", "db*", "?", "b*", "hop", "x", "!x", "*1", "bastion", "!bastion", "10.0.0.?", "Alias")
	return p
}

// patterns returns one to three patterns joined by sep.
func (g *cfgGen) patterns(sep string) string {
	var ps []string
	for range 1 + g.r.IntN(3) {
		ps = append(ps, g.pattern())
	}
	return strings.Join(ps, sep)
}

// block returns a Host or Match line.
func (g *cfgGen) block() string {
	switch g.r.IntN(10) {
	case 0, 1, 2, 3, 4:
		return g.pick("Host ", "host ", "HOST=", "Host = ", "\tHost\t") + g.patterns(" ")
	case 5:
		return "Match " + g.pick("host ", "!host ", "originalhost ", "!originalhost ") + g.patterns(",")
	case 6:
		return "Match " + g.pick("user ", "!user ", "localuser ") + g.pick("bob", "root", "deploy", "*", "b*,!bob", "{{LOCALUSER}}")
	case 7:
		return "Match " + g.pick("all", "final", "canonical", "!final", "final host "+g.patterns(","), "host "+g.patterns(",")+" user "+g.pick("bob", "root,deploy", "*"))
	case 8:
		return "Match " + g.pick("host ", "originalhost ") + g.patterns(",") + " " + g.pick("final", "!canonical", "user *", "originalhost "+g.patterns(","))
	default:
		return "Host *"
	}
}

// value returns a keyword line.
func (g *cfgGen) value() string {
	switch g.r.IntN(27) {
	case 0:
		return "HostName " + g.pick("%h.example.com", "Real.Example.COM", "%h", "10.1.1.1", "%%h", "bastion", "hop.example.com", "WEB1", "web1", "\"quoted.example\"", "x")
	case 1:
		return "Port " + g.pick("2222", "22", "1", "65535", "2200")
	case 2:
		return "User " + g.pick("alice", "bob", "root", "\"u\"", "deploy", "%u")
	case 3, 4:
		return "IdentityFile " + g.pick("~/.ssh/id_%h", "/k/%r@%h:%p", "/k/%n", "/k/a", "/k/b", "\"/k/sp ace\"", "~/.ssh/id_ed25519", "/k/%%", "/k/%u-%d", "/k/%C", "/k/%l-%L-%i", "/k/%k", "/k/${SSHPOOL_ORACLE_DIR}")
	case 5:
		return "CertificateFile " + g.pick("/c/1", "/c/%h", "~/c2", "/c/%r")
	case 6:
		return "IdentitiesOnly " + g.pick("yes", "no", "true", "False")
	case 7:
		return "IdentityAgent " + g.pick("none", "SSH_AUTH_SOCK", "~/agent.sock", "/run/a-%h.sock", "/tmp/%u/agent", "\"/tmp/a b\"")
	case 8:
		return "UserKnownHostsFile " + g.pick("none", "/dev/null", "~/kh1 ~/kh2", "/kh/%h-%p", "/kh/%C", "/kh/%k", "%d/kh", "/kh/a /kh/b /kh/c", "/kh/%n/%r/%u")
	case 9:
		return "GlobalKnownHostsFile " + g.pick("none", "/g/1", "/g/1 /g/2", "/etc/ssh/ssh_known_hosts")
	case 10:
		return "StrictHostKeyChecking " + g.pick("yes", "no", "ask", "accept-new", "off", "true", "false")
	case 11:
		return "HashKnownHosts " + g.pick("yes", "no")
	case 12:
		return "ConnectTimeout " + g.pick("10", "1m", "1h30m", "none", "0", "90s", "2W", "5M")
	case 13:
		return "ServerAliveInterval " + g.pick("15", "0", "1m", "none", "30s")
	case 14:
		return "ServerAliveCountMax " + g.pick("0", "1", "5", "3")
	case 15:
		return "TCPKeepAlive " + g.pick("yes", "no")
	case 16:
		return g.pick("PubkeyAuthentication ", "PasswordAuthentication ", "KbdInteractiveAuthentication ", "ChallengeResponseAuthentication ") + g.pick("yes", "no")
	case 17, 18:
		return "ProxyJump " + g.pick("bastion", "none", "hop,bastion", "alice@bastion:2200", "hop", "ssh://u@hop:2222", "bastion,hop", "x")
	case 19:
		return "ProxyCommand " + g.pick("none", "nc %h %p", "ssh -W %h:%p bastion", "/bin/relay %r@%h:%p %n", "exec nc %h %p", "nc \"%h\" %p # comment")
	case 20:
		return "HostKeyAlias " + g.pick("kalias", "KAlias", "%h")
	case 21:
		return g.pick("LogLevel ERROR", "Compression yes", "SendEnv LANG", "ForwardX11 no", "ServerAliveCountMax 2", "ProtocolKeepAlives 20", "Ciphers aes128-ctr", "ControlMaster no", "ForwardAgent no", "RequestTTY no")
	case 22:
		return "Include " + g.pick("inc/*.conf", "inc/a.conf", "~/.ssh/inc/b.conf", "nonexistent/*", "inc/*")
	case 23:
		return g.pick("PubkeyAuthentication host-bound", "PubkeyAuthentication unbound", "Port=2000", "user = eq", "  # comment", "", "hostname=\"h.example\"")
	case 24:
		return "IgnoreUnknown " + g.pick("Foo*", "UseKeychain", "*")
	case 25:
		return g.edge()
	default:
		return g.pick("UseKeychain yes", "FooBar baz", "IdentityFile /k/dup", "IdentityFile /k/dup")
	}
}

// text returns a configuration of the given number of lines, with
// varied indentation, trailing white space, comments and CRLF.
func (g *cfgGen) text(lines int) string {
	var b strings.Builder
	for range lines {
		if g.r.IntN(4) == 0 {
			b.WriteString(g.block())
		} else {
			b.WriteString(g.pick("  ", "\t", "", " \t ") + g.value())
		}
		b.WriteString(g.pick("\n", "\n", "\n", "  \n", "\r\n", " # c\n"))
	}
	return b.String()
}

// files returns the configuration and the files it may include.
func (g *cfgGen) files() map[string]string {
	return map[string]string{
		"config":                     g.text(4 + g.r.IntN(14)),
		"home/.ssh/inc/a.conf":       g.text(1 + g.r.IntN(5)),
		"home/.ssh/inc/b.conf":       g.text(1 + g.r.IntN(5)),
		"home/.ssh/inc/.hidden.conf": "Port 9999\n",
	}
}

// edge returns a line that tests how ssh splits, quotes, checks or
// expands something.
func (g *cfgGen) edge() string {
	return g.pick(
		"Port 022", "Port +22", "Port 0x16", "Port 0", "Port 22 ", "Port \"22\"", "Port 2#2", "Port 22#c",
		"User a#b", "User \"a b\"", "User 'x'\"y\"", "User a\\ b", "User \\", "User \"\"", "User a=b", "User =a", "User==a",
		"HostName \"\"", "HostName É.example", "HostName ÀB", "HostName a%%b", "HostName [::1]", "HostName ::1", "HostName FE80::1%ETH0", "HostName %h%h", "HostName UPPER%h",
		"ServerAliveCountMax -1", "ServerAliveCountMax 08", "ServerAliveCountMax +3", "ServerAliveCountMax 2147483648",
		"ConnectTimeout 1m30", "ConnectTimeout 1M", "ConnectTimeout 0s", "ConnectTimeout 9999999999", "ConnectTimeout 1w1d", "ConnectTimeout -1", "ConnectTimeout 1 m",
		"ServerAliveInterval 1h", "ServerAliveInterval 0x10",
		"TCPKeepAlive YES", "TCPKeepAlive On", "IdentitiesOnly TRUE",
		"StrictHostKeyChecking Accept-New", "StrictHostKeyChecking OFF",
		"ProxyJump a, b", "ProxyJump a,,b", "ProxyJump [::1]:22", "ProxyJump u@[fe80::1]:2200", "ProxyJump ssh://u@hop:22/", "ProxyJump ssh://hop:0", "ProxyJump NONE", "ProxyJump none,x", "ProxyJump x,none", "ProxyJump u@@x", "ProxyJump :22",
		"ProxyCommand  nc %h   %p  ", "ProxyCommand \"nc\" %h", "ProxyCommand NONE", "ProxyCommand none # c", "ProxyCommand nc %h %p#x", "ProxyCommand=nc %h %p",
		"IdentityFile \"a\"\"b\"", "IdentityFile a\\", "IdentityFile ~", "IdentityFile ~root/x", "IdentityFile ~/x ~/y", "IdentityFile %d%%", "IdentityFile ${HOME}/k", "IdentityFile $HOME/k",
		"UserKnownHostsFile \"\"", "UserKnownHostsFile /a \"/b c\"", "UserKnownHostsFile ~/%%/x", "UserKnownHostsFile NONE",
		"GlobalKnownHostsFile ~/g", "GlobalKnownHostsFile /g/%h", "GlobalKnownHostsFile ~/g /g/%h ${SSHPOOL_ORACLE_DIR}/g",
		"IdentityAgent ${SSHPOOL_ORACLE_UNSET}/s", "ForwardAgent ${SSHPOOL_ORACLE_UNSET}/s", "ForwardAgent $A-B", "IdentityAgent $1X",
		"Match host Àb*", "Match originalhost WEB*", "HostName ÀB.Example", "SetupTimeOut 7", "ProtocolKeepAlives 20", "ServerAliveCountMax 0",
		"ProxyJump %h", "ProxyCommand ==nc %h %p", "UseBlacklistedKeys no",
		"IdentityAgent $SSH_AUTH_SOCK", "IdentityAgent ${SSHPOOL_ORACLE_DIR}/s", "IdentityAgent NONE", "IdentityAgent \"none\"",
		"HostKeyAlias UPPER", "HostKeyAlias a b",
		"Host \"a b\"", "Host web1 \"x\"", "Host *\tweb1", "Host !*", "Host !web1 *", "Host * !web1", "Host ?????", "Host web[1]", "Host \"!web1\" *",
		"Match host \"web1,x\"", "Match Host web1", "Match HOST WEB1", "Match host web1 host x", "Match !all", "Match all all", "Match canonical all", "Match final all", "Match user \"\"",
		"Match originalhost *1 !final", "Match !canonical !final", "Match host=web1",
		"\fPort 1", "Port 1\f", "\rPort 2", " = Port 3", "#Port 4", "   #Port 5", "Port\t\t6", "PORT 7", "pOrT=8", "Port =9", "Port= 10", "\"Port\" 11", "Port \"12", "Port '13'",
		"Include \"inc/a.conf\"", "Include inc/a.conf inc/b.conf", "Include ~/.ssh/inc/*.conf", "Include /nonexistent", "Include inc/[ab].conf", "Include inc/?.conf",
		"IgnoreUnknown \"Use*\"", "IgnoreUnknown usekeychain", "IgnoreUnknown a,b,UseKeychain",
	)
}
