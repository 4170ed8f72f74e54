package sshconn_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/testenv"
	"github.com/sshpool/sshpool/sshconn"
)

// The ssh -G oracle: OpenSSH prints the configuration it resolved for a
// host with `ssh -G`. TestSSHConfigMatchesSSH resolves every host of a
// corpus of ssh_config files with SSHConfig and with ssh -G, and compares
// every keyword sshconn uses. How the comparison is made honest:
//
//   - ssh -F FILE reads no system file; SSHConfig gets SystemPath "none".
//     The system file's precedence is tested separately
//     (TestSSHConfigSystemFileMatchesSSH): ssh runs without -F in a private
//     mount namespace where a temporary home and /etc/ssh are bind-mounted
//     over the real ones, so it reads its real default paths.
//   - ssh expands ~ in UserKnownHostsFile and IdentityAgent, and %d, from
//     the password database (this machine's /root), but Include's ~ and
//     relative paths from $HOME. ssh runs with HOME set to a temporary
//     directory that SSHConfig gets as Home, and the password-database home
//     in ssh's output is mapped to it.
//   - ssh -G prints IdentityFile and CertificateFile unexpanded. The test
//     compares order and membership, expanding ssh's list with the host
//     name, port and users ssh -G itself printed. Token expansion is proven
//     on UserKnownHostsFile, which ssh -G prints expanded by the same
//     function ssh uses for IdentityFile.
//   - ssh -G prints ProxyJump as written; for each hop the test asks ssh -G
//     again with the options ssh passes the ssh it runs for that hop (-l,
//     -p, -J with the earlier hops), and compares that hop's Target.
//
// Where SSHConfig deliberately differs (a keyword it refuses or warns
// about, an OpenSSH feature newer than 9.2), TestSSHConfigDeliberateOutcomes
// shows ssh's outcome next to SSHConfig's documented one.

const sshBinary = "/usr/bin/ssh"

// needSSH skips the test when the OpenSSH client is missing, or fails it
// when CI=true (.ci/run installs openssh-client).
func needSSH(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshBinary); err != nil {
		testenv.Missing(t, "%s is missing: install openssh-client (.ci/run does)", sshBinary)
	}
}

// oracleCase is a set of files (paths relative to the case's directory;
// "config" is the file given to ssh -F, "home/..." is under $HOME) and the
// hosts to resolve with them.
type oracleCase struct {
	name  string
	files map[string]string
	hosts []string
}

var oracleCorpus = []oracleCase{
	{"host patterns", map[string]string{"config": `
Host web? !web9 db-*.example.com
  User pat
Host *.example.com
  Port 2200
Host web??
  User two
Host WEB*
  User upper
Host *
  User fallback
`}, []string{"web1", "web9", "web12", "web123", "db-1.example.com", "other.example.com", "WEB1", "x", "10.1.2.3"}},
	{"first match wins", map[string]string{"config": `
Host alias
  HostName %h.Internal.Example
  Port 2222
Host alias
  HostName ignored.example
  User first
Host 10.*
  HostName %h
Host *
  User second
  Port 2
  HostName %%literal.%h
`}, []string{"alias", "ALIAS", "10.0.0.1", "plain", "bob@alias", "bob@plain:2022"}},
	{"match", map[string]string{"config": `
Match originalhost short
  HostName short.example.com
Match host *.example.com user deploy
  Port 2201
Match host *.example.com !user deploy
  Port 2202
Match user root,!nobody
  IdentityFile /k/root-match
Match localuser {{LOCALUSER}}
  IdentityFile /k/local
Match !localuser {{LOCALUSER}}
  IdentityFile /k/notlocal
Match all
  User deploy
`}, []string{"short", "deploy@short", "other.example.com", "alice@x", "root@y"}},
	{"match final", map[string]string{"config": `
Host a
  HostName real.example.com
Match final host real.example.com
  User finaluser
Match canonical host a
  Port 2300
Match !final
  IdentityFile /k/first-pass
Host real.example.com
  Port 2400
`}, []string{"a", "b", "real.example.com"}},
	{"include", map[string]string{
		"config": `
Include conf.d/*.conf
Host inc
  Include host.inc
  Port 7
Host *
  User base
`,
		"home/.ssh/conf.d/10-a.conf":    "Host one\n  Port 1001\n",
		"home/.ssh/conf.d/20-b.conf":    "Host one two\n  Port 1002\n  User b\n",
		"home/.ssh/conf.d/.hidden.conf": "Host *\n  Port 9999\n",
		"home/.ssh/host.inc":            "User incuser\nHost other\n  Port 1111\n",
	}, []string{"one", "two", "inc", "other", "none"}},
	{"include absolute and tilde", map[string]string{
		"config":                "Include ~/extra/*.conf {{DIR}}/abs.conf\nHost *\n  Port 1\n",
		"home/extra/a.conf":     "Host t1\n  User fromtilde\n",
		"abs.conf":              "Host t1 t2\n  Port 3333\n  User fromabs\n",
		"home/extra/b.conf.bak": "Host *\n  Port 4444\n",
	}, []string{"t1", "t2", "t3"}},
	{"tokens", map[string]string{"config": `
Host tok
  HostName Tok.Example.COM
  User deploy
  Port 2022
  HostKeyAlias KeyAlias
  UserKnownHostsFile /kh/%C/%h/%i/%k/%L/%l/%n/%p/%r/%u/%% %d/kh1 ~/kh2 ${SSHPOOL_ORACLE_DIR}/kh3
  IdentityAgent ~/agent.%h.sock
  IdentityFile ~/.ssh/id_%h_%r
  IdentityFile /keys/%n-%p
Host *
  UserKnownHostsFile ~/.ssh/kh_%h_%p
`}, []string{"tok", "x.example", "carol@y:2000"}},
	{"proxy", map[string]string{"config": `
Host target
  ProxyJump hop1,admin@hop2:2202
Host hop1
  HostName hop1.example.com
  ProxyJump bastion
  User h1
Host hop2
  HostName hop2.example.com
  ProxyJump never-used
Host bastion
  HostName bastion.example.com
  User ops
  Port 2200
Host direct
  ProxyJump none
Host pj-cmd
  ProxyJump bastion
  ProxyCommand nc %h %p
Host cmd-pj
  ProxyCommand ssh -W [%h]:%p -l %r bastion
  ProxyJump bastion
Host none-then-cmd
  ProxyJump none
  ProxyCommand nc %h %p
Host cmd-none
  ProxyCommand none
  ProxyJump bastion
Host uri
  ProxyJump ssh://u@uri-hop.example.com:2222
Host none-then-pj
  ProxyJump none
  ProxyJump bastion
Host * !bastion
  ProxyJump bastion
`}, []string{"target", "hop1", "direct", "pj-cmd", "cmd-pj", "none-then-cmd", "cmd-none", "uri", "none-then-pj", "anything", "bastion"}},
	{"identity accumulation", map[string]string{"config": `
Host acc
  IdentityFile /k/1
  IdentityFile /k/2
Host a*
  IdentityFile /k/1
  IdentityFile /k/3
  CertificateFile /k/3-cert.pub
  IdentitiesOnly yes
Host *
  IdentityFile /k/4
  CertificateFile /k/4-cert.pub
`}, []string{"acc", "abc", "zzz"}},
	{"host keys timeouts auth", map[string]string{"config": `
Host strict
  StrictHostKeyChecking yes
  HashKnownHosts yes
  ConnectTimeout 1m30s
  ServerAliveInterval 15
  ServerAliveCountMax 5
  TCPKeepAlive no
  GlobalKnownHostsFile /etc/kh/a /etc/kh/b
  PubkeyAuthentication no
  PasswordAuthentication no
  KbdInteractiveAuthentication no
Host new
  StrictHostKeyChecking accept-new
  UserKnownHostsFile none
  ConnectTimeout none
  ServerAliveInterval 2m
Host off
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  TCPKeepAlive yes
Host lenient
  StrictHostKeyChecking off
  GlobalKnownHostsFile none
  PubkeyAuthentication host-bound
Host agentnone
  IdentityAgent none
Host agentenv
  IdentityAgent SSH_AUTH_SOCK
Host *
  ConnectTimeout 10
  HashKnownHosts no
`}, []string{"strict", "new", "off", "lenient", "agentnone", "agentenv", "other"}},
	{"syntax", map[string]string{"config": "" +
		"# comment\n" +
		"HOST = quoted\n" +
		"  hostname=\"quoted.example.com\"\n" +
		"  User \"has space\"\n" +
		"  IdentityFile \"/path with space/key\" # comment\n" +
		"  Port=2000\n" +
		"Host    tabbed\tother\n" +
		"\tUser\ttab\n" +
		"\tIdentityFile /k/escaped\\ space\n" +
		"Host 'single'\n" +
		"  HostName 'single.example.com'\n" +
		"  \n" +
		"Host *\r\n" +
		"  Port 1234   \r\n",
	}, []string{"quoted", "tabbed", "other", "single", "x"}},
	{"keyword and Match splitting", map[string]string{"config": "" +
		"Host split1\n  =Port 2001\n" +
		"Host split2\n \t = User eqlead\n" +
		"Host split3\n\"Port\" 2003\n" +
		"Host split4\nPo\"rt\" 2004\n" +
		"Host split5\n\"Port 9999\n  User notskipped\n" +
		"Host split6\n  ProxyCommand==nc %h %p\n" +
		"Match host=matcheq\n  Port 2005\n" +
		"Match host 'matcheq'\n  User singlequoted\n" +
		"Match host matcheq # a comment\n  IdentityFile /k/commented\n" +
		"Match all # a comment\n  ServerAliveInterval 7\n",
	}, []string{"split1", "split2", "split3", "split4", "split5", "split6", "matcheq"}},
	{"ASCII case, Debian aliases, counts", map[string]string{"config": `
Host upper
  HostName ÀB.Example.COM
Match host Àb.example.com
  Port 2100
Match host àb.example.com
  Port 2101
Host prot
  ProtocolKeepAlives 20
  ServerAliveCountMax 0
Host setup
  SetupTimeOut 7
  ConnectTimeout 0
Host *
  UseBlacklistedKeys no
  ConnectTimeout 5
`}, []string{"upper", "prot", "setup"}},
	{"agent and global known hosts", map[string]string{"config": `
Host agentpath
  IdentityAgent NONE
Host agentvar
  IdentityAgent $SSHPOOL_ORACLE_DIR
Host agentunset
  IdentityAgent $SSHPOOL_ORACLE_UNSET
Host *
  GlobalKnownHostsFile ~/g1 /g/%h ${SSHPOOL_ORACLE_DIR}/g2
`}, []string{"agentpath", "agentvar", "agentunset", "other"}},
	{"ignore unknown", map[string]string{"config": `
IgnoreUnknown Foo*,UseKeychain
UseKeychain yes
FooBar baz
Host x
  Port 3
`}, []string{"x", "y"}},
	{"ignored and warned keywords", map[string]string{"config": `
Host w
  ForwardAgent yes
  Ciphers aes128-ctr
  ControlMaster auto
  ControlPath ~/.ssh/cm-%C
  LogLevel ERROR
  SendEnv LANG
  Compression yes
  VisualHostKey yes
  RequestTTY no
  Port 2500
`}, []string{"w"}},
	{"errors", map[string]string{
		"config":         "Host ok\n  Port 22\n",
		"unknown":        "Host *\n  Bogus yes\n",
		"badport":        "Host elsewhere\n  Port 70000\nHost *\n  User u\n",
		"badflag":        "Host *\n  TCPKeepAlive maybe\n",
		"quotes":         "Host *\n  User \"unterminated\n",
		"noarg":          "Host *\n  Port\n",
		"extra":          "Host *\n  User a b\n",
		"matchattr":      "Match bogus x\n  Port 1\n",
		"matchall":       "Match all host x\n  Port 1\n",
		"nonealone":      "Host *\n  UserKnownHostsFile /a none\n",
		"badtoken":       "Host *\n  UserKnownHostsFile /kh/%x\n",
		"badhntoken":     "Host *\n  HostName %p.example\n",
		"selfinclude":    "Include {{DIR}}/selfinclude\n",
		"badjump":        "Host *\n  ProxyJump a:99999\n",
		"unsetenv":       "Host *\n  UserKnownHostsFile ${SSHPOOL_ORACLE_UNSET}/kh\n",
		"emptyhost":      "Host \"\"\n  Port 1\n",
		"badstrict":      "Host *\n  StrictHostKeyChecking sometimes\n",
		"badtime":        "Host *\n  ConnectTimeout 5x\n",
		"matchnocrit":    "Match host\n  Port 1\n",
		"hostkeyaliasno": "Host *\n  HostKeyAlias\n",
		"emptyuser":      "Host *\n  User \"\"\n",
		"emptyident":     "Host nomatch\n  IdentityFile \"\"\n",
		"negcount":       "Host *\n  ServerAliveCountMax -1\n",
		"agentenv":       "Host nomatch\n  IdentityAgent ${SSHPOOL_ORACLE_UNSET}/s\n",
		"fwdagentname":   "Host nomatch\n  ForwardAgent $A-B\n",
		"jumpspace":      "Host *\n  ProxyJump a, b\n",
		"selfjump":       "Host *\n  HostName jumpself\n  ProxyJump jumpself\n",
		"emptyignore":    "IgnoreUnknown \"\"\n",
		"matchextra":     "Match host h \"\" final\n  Port 1\n",
	}, nil},
}

// oracleErrorFiles are the files of the "errors" case, each a config on
// which ssh -G fails; SSHConfig must fail too.
var oracleErrorFiles = []string{"unknown", "badport", "badflag", "quotes", "noarg", "extra", "matchattr", "matchall",
	"nonealone", "badtoken", "badhntoken", "selfinclude", "badjump", "unsetenv", "emptyhost", "badstrict", "badtime",
	"matchnocrit", "hostkeyaliasno", "emptyuser", "emptyident", "negcount", "agentenv", "fwdagentname", "jumpspace", "selfjump",
	"emptyignore", "matchextra"}

// oracleEnv is what one case runs in: its directory, $HOME, and the home
// ssh takes from the password database.
type oracleEnv struct {
	t      *testing.T
	dir    string
	home   string
	pwHome string
	user   string
}

func newOracleEnv(t *testing.T, files map[string]string) *oracleEnv {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &oracleEnv{t: t, dir: dir, home: filepath.Join(dir, "home"), pwHome: u.HomeDir, user: u.Username}
	if err := os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		content = strings.NewReplacer("{{DIR}}", dir, "{{LOCALUSER}}", u.Username).Replace(content)
		writeFile(t, p, content)
	}
	t.Setenv("SSHPOOL_ORACLE_DIR", dir)
	return e
}

// defaults is the Target template matching ssh's built-in defaults.
func (e *oracleEnv) defaults() sshconn.Target {
	sshDir := filepath.Join(e.home, ".ssh")
	return sshconn.Target{
		Auth:                  sshconn.Auth{Agent: true},
		KnownHostsFiles:       []string{filepath.Join(sshDir, "known_hosts"), filepath.Join(sshDir, "known_hosts2")},
		GlobalKnownHostsFiles: []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"},
		DialTimeout:           42 * time.Second,
	}
}

func (e *oracleEnv) resolver(config string) *sshconn.SSHConfig {
	return &sshconn.SSHConfig{Path: config, SystemPath: "none", Home: e.home, LocalUser: e.user,
		Defaults: e.defaults(), Logger: discardLogger()}
}

// sshG runs ssh -G with args and returns its settings by keyword, with
// the password-database home mapped to the case's $HOME.
func (e *oracleEnv) sshG(args ...string) (map[string][]string, error) {
	cmd := exec.Command(sshBinary, append([]string{"-G"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.home)
	cmd.Stdin = nil
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ssh -G %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	got := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		kw, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		got[kw] = append(got[kw], e.mapHome(val))
	}
	return got, nil
}

func (e *oracleEnv) mapHome(s string) string {
	var out []string
	for _, f := range strings.Split(s, " ") {
		if f == e.pwHome || strings.HasPrefix(f, e.pwHome+"/") {
			f = e.home + strings.TrimPrefix(f, e.pwHome)
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// oracleStats counts the comparisons made, for the test's log.
type oracleStats struct{ hosts, keywords, errors int }

func TestSSHConfigMatchesSSH(t *testing.T) {
	needSSH(t)
	var stats oracleStats
	for _, c := range oracleCorpus {
		t.Run(c.name, func(t *testing.T) {
			e := newOracleEnv(t, c.files)
			config := filepath.Join(e.dir, "config")
			for _, key := range c.hosts {
				stats.hosts++
				stats.keywords += e.compareHost(config, key)
			}
			if c.name == "errors" {
				stats.errors += e.compareErrors()
			}
		})
	}
	t.Logf("ssh -G oracle: %d configuration cases, %d hosts resolved (and their jump hops), %d keyword values compared, %d configurations both refuse",
		len(oracleCorpus), stats.hosts, stats.keywords, stats.errors)
}

// compareHost resolves key ("[user@]host[:port]") with SSHConfig and with
// ssh -G (ssh -l USER -p PORT HOST), and compares them; it returns the
// number of keyword values compared.
func (e *oracleEnv) compareHost(config, key string) int {
	t := e.t
	u, host, port := splitHop(key)
	args := []string{"-F", config}
	if u != "" {
		args = append(args, "-l", u)
	}
	if port != "" {
		args = append(args, "-p", port)
	}
	want, err := e.sshG(append(args, host)...)
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return 0
	}
	got, err := e.resolver(config).Resolve(context.Background(), key)
	if err != nil {
		t.Errorf("%s: ssh -G resolves it, SSHConfig: %v", key, err)
		return 0
	}
	return e.compareTarget(config, key, got, want)
}

// compareTarget compares every keyword sshconn uses.
func (e *oracleEnv) compareTarget(config, key string, got sshconn.Target, want map[string][]string) int {
	n := 0
	check := func(kw, gotV string) {
		n++
		if w := strings.Join(want[kw], "\n"); w != gotV {
			e.t.Errorf("%s: %s: ssh -G says %q, SSHConfig %q", key, kw, w, gotV)
		}
	}
	check("user", got.User)
	check("hostname", got.Host)
	check("port", strconv.Itoa(portOr22(got.Port)))
	check("hostkeyalias", got.HostKeyAlias)
	check("identityfile", strings.Join(e.identityFiles(want, got, key), "\n"))
	check("certificatefile", strings.Join(certFiles(want["certificatefile"], expandSSHList(want["certificatefile"], want, e.home, key), got), "\n"))
	check("identitiesonly", yesno(got.Auth.IdentitiesOnly))
	check("identityagent", identityAgent(got.Auth, want))
	check("userknownhostsfile", knownHostsLine(got.KnownHostsFiles))
	// ssh -G prints GlobalKnownHostsFile as written; ssh expands its ~
	// (only) when it reads the files.
	if g := want["globalknownhostsfile"]; len(g) == 1 {
		want["globalknownhostsfile"] = []string{tildeFields(g[0], e.home)}
	}
	check("globalknownhostsfile", knownHostsLine(got.GlobalKnownHostsFiles))
	check("stricthostkeychecking", strictOf(got, want))
	check("hashknownhosts", yesno(got.HashKnownHosts))
	check("connecttimeout", connectTimeout(got.DialTimeout, want))
	check("serveraliveinterval", strconv.Itoa(int(got.KeepaliveInterval/time.Second)))
	check("serveralivecountmax", aliveCount(got, want))
	check("tcpkeepalive", yesno(got.TCPKeepAlive >= 0))
	check("pubkeyauthentication", pubkeyAuth(got, want))
	check("passwordauthentication", yesno(!got.Auth.DisablePassword))
	check("kbdinteractiveauthentication", yesno(!got.Auth.DisableKeyboardInteractive))
	check("proxycommand", got.ProxyCommand)
	return n + e.compareJumps(config, key, got, want)
}

// compareJumps compares each ProxyJump hop with what ssh -G says about it
// when asked as ssh's own ProxyJump does (ssh -l USER -p PORT -J
// EARLIER-HOPS HOP; the first hop without -J, so its own configuration
// decides how it is reached).
func (e *oracleEnv) compareJumps(config, key string, got sshconn.Target, want map[string][]string) int {
	spec := strings.Join(want["proxyjump"], "")
	if spec == "" {
		if len(got.JumpHosts) != 0 {
			e.t.Errorf("%s: ssh -G has no proxyjump, SSHConfig jumps via %v", key, got.JumpHosts)
		}
		return 1
	}
	hops := strings.Split(spec, ",")
	if len(got.JumpHosts) < len(hops) {
		e.t.Errorf("%s: ssh -G jumps via %s, SSHConfig via %d hops", key, spec, len(got.JumpHosts))
		return 1
	}
	own := got.JumpHosts[:len(got.JumpHosts)-len(hops)] // the first hop's own chain
	n := 0
	for i, hop := range hops {
		u, h, p := splitHop(hop)
		args := []string{"-F", config}
		if u != "" {
			args = append(args, "-l", u)
		}
		if p != "" {
			args = append(args, "-p", p)
		}
		if i > 0 {
			args = append(args, "-J", strings.Join(hops[:i], ","))
		}
		hw, err := e.sshG(append(args, h)...)
		if err != nil {
			e.t.Errorf("%s: hop %s: %v", key, hop, err)
			continue
		}
		ht := got.JumpHosts[len(own)+i]
		if i == 0 {
			ht.JumpHosts = own
		} else {
			// ssh -G shows the -J it was given; SSHConfig's later hops carry
			// no chain of their own.
			delete(hw, "proxyjump")
		}
		n += e.compareTarget(config, key+" via "+hop, ht, hw)
	}
	return n
}

func splitHop(hop string) (u, h, p string) {
	hop = strings.TrimPrefix(hop, "ssh://")
	if i := strings.LastIndexByte(hop, '@'); i >= 0 {
		u, hop = hop[:i], hop[i+1:]
	}
	if strings.HasPrefix(hop, "[") {
		end := strings.IndexByte(hop, ']')
		h, hop = hop[1:end], hop[end+1:]
		p = strings.TrimPrefix(hop, ":")
		return u, h, p
	}
	h, p, _ = strings.Cut(hop, ":")
	return u, h, p
}

// identityFiles returns SSHConfig's identity files, or, when the
// configuration names none, ssh's built-in list as ssh -G prints it.
func (e *oracleEnv) identityFiles(want map[string][]string, got sshconn.Target, key string) []string {
	list := want["identityfile"]
	if len(got.Auth.IdentityFiles) == 0 && len(list) > 0 && strings.HasPrefix(list[0], "~/.ssh/id_rsa") {
		return list
	}
	// Put SSHConfig's list in ssh's terms: ssh's unexpanded list, expanded
	// with ssh's own values, must equal SSHConfig's.
	if exp := expandSSHList(list, want, e.home, key); strings.Join(exp, "\n") == strings.Join(got.Auth.IdentityFiles, "\n") {
		return list
	}
	return got.Auth.IdentityFiles
}

// expandSSHList expands ~, ${VAR} and the tokens of ssh -G's unexpanded
// IdentityFile or CertificateFile list, in one pass as ssh's
// percent_dollar_expand does, with the values ssh -G printed itself (%h
// %p %r %k) and those of the environment ssh ran in (%C %d %i %L %l %n %u).
func expandSSHList(list []string, want map[string][]string, home, key string) []string {
	if i := strings.LastIndex(key, " via "); i >= 0 {
		key = key[i+len(" via "):]
	}
	_, alias, _ := splitHop(key)
	fqdn, _ := os.Hostname()
	short, _, _ := strings.Cut(fqdn, ".")
	local, _ := user.Current()
	h, p, r := first(want["hostname"]), first(want["port"]), first(want["user"])
	tok := map[byte]string{'h': h, 'p': p, 'r': r, 'n': alias, 'k': firstOf(first(want["hostkeyalias"]), alias),
		'd': home, 'u': local.Username, 'i': strconv.Itoa(os.Getuid()), 'l': fqdn, 'L': short,
		'C': fmt.Sprintf("%x", sha1.Sum([]byte(fqdn+h+p+r))), '%': "%"}
	var out []string
	for _, f := range list {
		if f == "~" || strings.HasPrefix(f, "~/") {
			f = home + f[1:]
		} else if name, rest, ok := strings.Cut(f[min(len(f), 1):], "/"); ok && strings.HasPrefix(f, "~") {
			if u, err := user.Lookup(name); err == nil {
				f = u.HomeDir + "/" + rest
			}
		}
		var b strings.Builder
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == '%' && i+1 < len(f):
				i++
				b.WriteString(tok[f[i]])
			case strings.HasPrefix(f[i:], "${") && strings.IndexByte(f[i:], '}') > 0:
				end := i + strings.IndexByte(f[i:], '}')
				b.WriteString(os.Getenv(f[i+2 : end]))
				i = end
			default:
				b.WriteByte(f[i])
			}
		}
		out = append(out, b.String())
	}
	return out
}

// tildeFields expands a leading ~ in each space-separated field of s.
func tildeFields(s, home string) string {
	fields := strings.Split(s, " ")
	for i, f := range fields {
		if f == "~" || strings.HasPrefix(f, "~/") {
			fields[i] = home + f[1:]
		}
	}
	return strings.Join(fields, " ")
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// certFiles returns ssh's list when SSHConfig's equals it once expanded,
// else SSHConfig's, so that a difference shows both.
func certFiles(sshList, expanded []string, got sshconn.Target) []string {
	if strings.Join(expanded, "\n") == strings.Join(got.Auth.CertificateFiles, "\n") {
		return sshList
	}
	return got.Auth.CertificateFiles
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func knownHostsLine(files []string) string {
	if len(files) == 0 {
		return "none"
	}
	return strings.Join(files, " ")
}

func identityAgent(a sshconn.Auth, want map[string][]string) string {
	w := first(want["identityagent"])
	switch {
	case w == "":
		return "" // not set in the configuration: ssh prints nothing
	case strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${"):
		// $NAME: the socket that variable names; unset, no agent.
		if sock := os.Getenv(w[1:]); a.Agent == (sock != "") && a.AgentSocket == sock {
			return w
		}
	case !a.Agent:
		return "none"
	case a.AgentSocket == "":
		return "SSH_AUTH_SOCK"
	}
	return a.AgentSocket
}

// strictOf maps the policy back to ssh -G's spelling; ssh's default "ask"
// is strict for a client that never prompts.
func strictOf(t sshconn.Target, want map[string][]string) string {
	w := first(want["stricthostkeychecking"])
	switch t.HostKey {
	case sshconn.HostKeyStrict:
		if w == "ask" {
			return "ask"
		}
		return "true"
	case sshconn.HostKeyInsecure:
		return "false"
	}
	if w == "false" && !allDevNullTarget(t) {
		return "false" // no/off with a real known_hosts file: accept-new
	}
	return "accept-new"
}

func allDevNullTarget(t sshconn.Target) bool {
	for _, f := range t.KnownHostsFiles {
		if f != os.DevNull {
			return false
		}
	}
	return len(t.KnownHostsFiles) > 0
}

// connectTimeout maps DialTimeout back to ssh -G's spelling. ssh's
// ConnectTimeout 0 means no timeout at all; SSHConfig deliberately keeps
// the Defaults' timeout then (every dial has a deadline).
func connectTimeout(d time.Duration, want map[string][]string) string {
	if d == 42*time.Second { // the Defaults' value: not set in the file, or 0
		if first(want["connecttimeout"]) == "0" {
			return "0"
		}
		return "none"
	}
	return strconv.Itoa(int(d / time.Second))
}

func aliveCount(t sshconn.Target, want map[string][]string) string {
	if t.KeepaliveInterval == 0 {
		return first(want["serveralivecountmax"]) // no keepalive: the count has no effect on the Target
	}
	return strconv.Itoa(int(t.KeepaliveTimeout / t.KeepaliveInterval))
}

func pubkeyAuth(t sshconn.Target, want map[string][]string) string {
	if t.Auth.DisablePublicKey {
		return "false"
	}
	if w := first(want["pubkeyauthentication"]); w != "false" {
		return w // true, unbound, host-bound: all offer public keys
	}
	return "true"
}

func portOr22(p int) int {
	if p == 0 {
		return 22
	}
	return p
}

// compareErrors checks that SSHConfig refuses every configuration ssh -G
// refuses, and returns their number.
func (e *oracleEnv) compareErrors() int {
	n := 0
	for _, name := range oracleErrorFiles {
		file := filepath.Join(e.dir, name)
		if _, err := e.sshG("-F", file, "host"); err == nil {
			e.t.Errorf("%s: ssh -G accepts it; the corpus expects a configuration ssh refuses", name)
			continue
		}
		_, err := e.resolver(file).Resolve(context.Background(), "host")
		var ce *sshconn.ConfigError
		if !errorsAs(err, &ce) {
			e.t.Errorf("%s: ssh -G refuses it, SSHConfig: %v", name, err)
			continue
		}
		n++
	}
	return n
}

// TestSSHConfigDeliberateOutcomes shows, for each keyword or feature where
// SSHConfig deliberately differs from ssh 9.2, ssh's outcome and
// SSHConfig's documented one.
func TestSSHConfigDeliberateOutcomes(t *testing.T) {
	needSSH(t)
	cases := []struct {
		name, config string
		sshAccepts   bool
		outcome      string // "error: <text>", "warning: <keyword>", "ok"
		// target, when set, checks SSHConfig's Target ("" when right).
		target func(sshconn.Target) string
	}{
		{"CanonicalizeHostname", "Host *\n  CanonicalizeHostname yes\n", true, "error: CanonicalizeHostname set to yes is not supported", nil},
		{"CanonicalizeHostname no", "Host *\n  CanonicalizeHostname no\n", true, "ok", nil},
		{"Match exec deciding", "Match exec \"true\"\n  Port 1\n", true, "error: Match exec is not supported", nil},
		{"Match exec skipped", "Match host nomatch exec \"false\"\n  Port 1\n", true, "ok", nil},
		{"RevokedHostKeys", "Host *\n  RevokedHostKeys /etc/ssh/revoked\n", true, "error: RevokedHostKeys set to /etc/ssh/revoked is not supported", nil},
		{"ProxyUseFdpass", "Host *\n  ProxyCommand nc %h %p\n  ProxyUseFdpass yes\n", true, "error: ProxyUseFdpass set to yes with a ProxyCommand", nil},
		{"ProxyCommand -", "Host *\n  ProxyCommand -\n", true, "error: ProxyCommand - ", nil},
		{"CanonicalizePermittedCNAMEs", "Host *\n  CanonicalizePermittedCNAMEs *.a:*.b\n", true, "error: CanonicalizePermittedCNAMEs", nil},
		{"ControlMaster", "Host *\n  ControlMaster auto\n", true, "warning: ControlMaster", nil},
		{"ForwardAgent", "Host *\n  ForwardAgent yes\n", true, "warning: ForwardAgent", nil},
		{"LocalCommand", "Host *\n  PermitLocalCommand yes\n  LocalCommand echo hi\n", true, "warning: LocalCommand", nil},
		{"LocalCommand not permitted", "Host *\n  LocalCommand echo hi\n", true, "ok", nil},
		{"Tunnel", "Host *\n  Tunnel yes\n", true, "warning: Tunnel", nil},
		{"Ciphers", "Host *\n  Ciphers aes128-ctr\n", true, "warning: Ciphers", nil},
		{"%j (OpenSSH 9.4+)", "Host host\n  ProxyJump b\n  UserKnownHostsFile /kh/%j\n", false, "ok", nil},
		{"ProxyJump loop", "Host *\n  ProxyJump b\n", true, "error: ProxyJump loop", nil},
		{"ChannelTimeout (OpenSSH 9.3+)", "Host *\n  ChannelTimeout session=5m\n", false, "warning: ChannelTimeout", nil},
		// ssh 9.2 reads "a ,b" and "a b" as a jump through a alone.
		{"ProxyJump with white space", "Host host\n  ProxyJump a ,b\n", true, "error: white space or quotes", nil},
		// ssh 9.2 jumps through a host named "none" (the comment defeats its
		// test for none); SSHConfig connects directly.
		{"ProxyJump none # comment", "Host host\n  ProxyJump none # direct\n", true, "ok", func(t sshconn.Target) string {
			if len(t.JumpHosts) != 0 || t.ProxyCommand != "" {
				return fmt.Sprintf("jumps %v, ProxyCommand %q; want a direct connection", t.JumpHosts, t.ProxyCommand)
			}
			return ""
		}},
		// ssh takes "x:" for x on port 22; SSHConfig wants a port after ':'.
		{"ProxyJump empty port", "Host host\n  ProxyJump x:\n", true, "error: invalid ProxyJump", nil},
		// ConnectTimeout 0 is no timeout at all in ssh; SSHConfig keeps the
		// Defaults' DialTimeout (every dial has a deadline).
		{"ConnectTimeout 0", "Host host\n  ConnectTimeout 0\n", true, "ok", func(t sshconn.Target) string {
			if t.DialTimeout != 42*time.Second {
				return fmt.Sprintf("DialTimeout %v; want the Defaults' 42s", t.DialTimeout)
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newOracleEnv(t, map[string]string{"config": c.config})
			config := filepath.Join(e.dir, "config")
			host := "host"
			if c.name == "CanonicalizePermittedCNAMEs" {
				host = "localhost" // ssh resolves the name first: one /etc/hosts knows
			}
			_, sshErr := e.sshG("-F", config, host)
			if (sshErr == nil) != c.sshAccepts {
				t.Errorf("ssh -G: %v; the table says ssh accepts it: %v", sshErr, c.sshAccepts)
			}
			var logs logBuffer
			r := e.resolver(config)
			r.Logger = logs.logger()
			got, err := r.Resolve(context.Background(), host)
			if c.target != nil && err == nil {
				if msg := c.target(got); msg != "" {
					t.Error(msg)
				}
			}
			kind, text, _ := strings.Cut(c.outcome, ": ")
			switch kind {
			case "error":
				if err == nil || !strings.Contains(err.Error(), text) || !strings.Contains(err.Error(), "config line") {
					t.Errorf("SSHConfig: %v; want an error naming the line and containing %q", err, text)
				}
			case "warning":
				if err != nil || !strings.Contains(logs.String(), "keyword="+text) || !strings.Contains(logs.String(), "line=") {
					t.Errorf("SSHConfig: %v, log %q; want a warning naming the line and %s", err, logs.String(), text)
				}
			default:
				if err != nil || strings.Contains(logs.String(), "WARN") {
					t.Errorf("SSHConfig: %v, log %q; want no error and no warning", err, logs.String())
				}
			}
		})
	}
}

// TestSSHConfigSystemFileMatchesSSH proves the precedence of the user's
// file over the system file against ssh reading its real default paths:
// in a private mount namespace (unshare -m), a temporary home is
// bind-mounted over the password-database home and a temporary directory
// over /etc/ssh, and ssh runs without -F. It needs root and a kernel and
// container that allow a mount namespace, which a CI machine may not give
// (it skips without them); unshare(1) is util-linux's, missing only on a
// broken install (it fails when CI=true).
func TestSSHConfigSystemFileMatchesSSH(t *testing.T) {
	needSSH(t)
	if os.Getuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		testenv.Missing(t, "needs unshare(1) (util-linux)")
	}
	e := newOracleEnv(t, map[string]string{
		"home/.ssh/config": "Host *.example\n  Port 2201\nHost special\n  User fromuser\n",
		"etc/ssh_config": "Include sys.d/*.conf\nHost *\n  User fromsystem\n  Port 2200\n" +
			"  IdentityFile /sys/key\n  GlobalKnownHostsFile /sys/kh\n",
		"etc/sys.d/a.conf": "Host special\n  Port 2299\n  User fromsysinclude\n",
	})
	hosts := []string{"web.example", "special", "other"}
	script := fmt.Sprintf("mount --bind %s %s && mount --bind %s /etc/ssh", e.home, e.pwHome, filepath.Join(e.dir, "etc"))
	for _, h := range hosts {
		script += " && echo '### " + h + "' && " + sshBinary + " -G " + h + " </dev/null"
	}
	out, err := exec.Command("unshare", "-m", "sh", "-c", script).Output()
	if err != nil {
		t.Skipf("private mount namespace unavailable: %v", err)
	}
	r := &sshconn.SSHConfig{SystemPath: filepath.Join(e.dir, "etc", "ssh_config"), Home: e.home, LocalUser: e.user,
		Defaults: e.defaults(), Logger: discardLogger()}
	for _, section := range strings.Split(string(out), "### ")[1:] {
		host, body, _ := strings.Cut(section, "\n")
		want := map[string][]string{}
		for _, line := range strings.Split(body, "\n") {
			if kw, val, ok := strings.Cut(line, " "); ok {
				want[kw] = append(want[kw], e.mapHome(val))
			}
		}
		got, err := r.Resolve(context.Background(), host)
		if err != nil {
			t.Errorf("%s: %v", host, err)
			continue
		}
		e.compareTarget("", host, got, want)
	}
}

// TestSSHConfigDevNullMatchesSSH: ssh -F /dev/null, OpenSSH's way to read
// no configuration, and SSHConfig with Path os.DevNull resolve hosts alike:
// to ssh's built-in defaults.
func TestSSHConfigDevNullMatchesSSH(t *testing.T) {
	needSSH(t)
	e := newOracleEnv(t, nil)
	n := 0
	for _, key := range []string{"h", "alice@h", "bob@db.example:2222"} {
		n += e.compareHost(os.DevNull, key)
	}
	if n == 0 {
		t.Fatal("no keyword compared")
	}
}

// TestKeywordTableDocumented: README lists every keyword of Keywords with
// its status, so the documented table cannot drift from the code.
func TestKeywordTableDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, k := range sshconn.Keywords() {
		row := "| `" + k.Name + "` | " + k.Status.String() + " |"
		if !bytes.Contains(readme, []byte(row)) {
			missing = append(missing, row)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README.md lacks %d keyword rows, e.g.:\n%s", len(missing), strings.Join(missing[:min(len(missing), 10)], "\n"))
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
