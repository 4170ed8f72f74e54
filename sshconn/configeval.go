package sshconn

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// cfgValue is a keyword's value on one line.
type cfgValue struct {
	args []string
	rest string
	line cfgLine
}

// first returns the first argument, or "".
func (v cfgValue) first() string {
	if len(v.args) == 0 {
		return ""
	}
	return v.args[0]
}

// cfgOptions is what the configuration gives one host: the first value
// obtained for each keyword (lower-case name), and the accumulated
// IdentityFile and CertificateFile lines.
type cfgOptions struct {
	first map[string]cfgValue
	lists map[string][]cfgValue
}

func newCfgOptions() *cfgOptions {
	return &cfgOptions{first: map[string]cfgValue{}, lists: map[string][]cfgValue{}}
}

// get returns the value of kw and whether it is set.
func (o *cfgOptions) get(kw string) (cfgValue, bool) {
	v, ok := o.first[kw]
	return v, ok
}

// cfgEval runs one pass of ssh's configuration processing for one host:
// every line of the user's file, then of the system file, each applied
// when its Host or Match block matches, the first value of a keyword
// winning.
type cfgEval struct {
	rd        *configReader
	host      string // what Host lines match: the host as given, or in the final pass the host name
	original  string // the host as given (Match originalhost)
	localUser string
	final     bool // the "Match final" pass
	wantFinal bool // a Match final was seen
	sysDir    string
	sshDir    string // ~/.ssh, for the user's relative Includes
	opts      *cfgOptions
}

// file processes one configuration file; missing reports that it does
// not exist.
func (e *cfgEval) file(path string, userConf, checkPerm bool, depth int, active *bool, never bool) (missing bool, err error) {
	if depth > maxIncludeDepth {
		return false, fmt.Errorf("too many recursive configuration includes at %s", path)
	}
	lines, missing, err := e.rd.read(path, checkPerm)
	if err != nil || missing {
		return missing, err
	}
	for _, l := range lines {
		if err := e.line(l, userConf, depth, active, never); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (e *cfgEval) line(l cfgLine, userConf bool, depth int, active *bool, never bool) error {
	switch l.keyword {
	case "host":
		for _, a := range l.args {
			if a == "" {
				return l.errorf("keyword host empty argument")
			}
		}
		*active = !never && matchHostLine(e.host, l.args)
		return nil
	case "match":
		ok, err := e.match(l, never)
		*active = !never && ok
		return err
	case "include":
		return e.include(l, userConf, depth, active, never)
	case "ignoreunknown":
		if len(l.args) != 1 {
			return l.errorf("IgnoreUnknown takes one argument")
		}
		e.store("ignoreunknown", cfgValue{args: l.args, rest: l.rest, line: l}, *active)
		return nil
	}
	kw, ok := keywordTable[l.keyword]
	if !ok {
		if ig, set := e.opts.get("ignoreunknown"); set && matchPatternList(l.keyword, ig.first(), true) == 1 {
			return nil
		}
		return l.errorf("bad configuration option: %s", l.keyword)
	}
	if err := checkArgs(kw, l); err != nil {
		return err
	}
	e.store(strings.ToLower(kw.name), cfgValue{args: l.args, rest: l.rest, line: l}, *active)
	return nil
}

// store records v for kw when the line is active: the first value wins,
// IdentityFile and CertificateFile accumulate (duplicates dropped), and
// the first of ProxyJump and ProxyCommand excludes the other.
func (e *cfgEval) store(kw string, v cfgValue, active bool) {
	if !active {
		return
	}
	o := e.opts
	if keywordTable[kw] != nil && keywordTable[kw].kind == argAccum {
		for _, have := range o.lists[kw] {
			if have.first() == v.first() {
				return
			}
		}
		o.lists[kw] = append(o.lists[kw], v)
		return
	}
	if kw == "proxyjump" || kw == "proxycommand" {
		if _, set := o.first["proxycommand"]; set {
			return
		}
		// A ProxyJump of hosts excludes a later ProxyCommand; "ProxyJump
		// none" only a later ProxyJump (what ssh -G shows).
		if pj, set := o.first["proxyjump"]; set && (kw == "proxyjump" || !strings.EqualFold(pj.first(), "none")) {
			return
		}
	}
	if keywordTable[kw] != nil && keywordTable[kw].kind == argTime && strings.EqualFold(v.first(), "none") {
		return // "none" leaves a time unset: a later line may still set it
	}
	if _, set := o.first[kw]; !set {
		o.first[kw] = v
	}
}

// include processes the files an Include line names, as ssh does: a file
// included from a block that does not apply is read and checked but never
// applies, and a Host or Match inside an included file does not change
// whether the including file's block applies.
func (e *cfgEval) include(l cfgLine, userConf bool, depth int, active *bool, never bool) error {
	dir := e.sysDir
	if userConf {
		dir = e.sshDir
	}
	oactive := *active
	for _, arg := range l.args {
		if arg == "" {
			return l.errorf("keyword include empty argument")
		}
		files, err := e.rd.includeFiles(arg, dir, userConf)
		if err != nil {
			return l.errorf("include %s: %v", arg, err)
		}
		for _, f := range files {
			if _, err := e.file(f, userConf, true, depth+1, active, never || !oactive); err != nil {
				return includeError(l, f, err)
			}
			*active = oactive
		}
	}
	return nil
}

func includeError(l cfgLine, file string, err error) error {
	var ie *inputfile.Error
	if errors.As(err, &ie) {
		return fmt.Errorf("%s: include %s: %w", l.pos(), file, err)
	}
	return err
}

// match evaluates a Match line as ssh's match_cfg_line does. Match exec is
// refused when its outcome would decide the block (an earlier criterion
// already failed: it is skipped, as ssh skips it).
func (e *cfgEval) match(l cfgLine, never bool) (bool, error) {
	host, err := e.matchHost()
	if err != nil {
		return false, err
	}
	result, attrs := true, 0
	for i := 0; i < len(l.args); i++ {
		a := l.args[i]
		neg := strings.HasPrefix(a, "!")
		crit := strings.ToLower(strings.TrimPrefix(a, "!"))
		if crit == "all" {
			if attrs > 1 || i+1 < len(l.args) {
				return false, l.errorf("'%s' cannot be combined with other Match attributes", a)
			}
			return result && !neg, nil
		}
		attrs++
		if crit == "canonical" || crit == "final" {
			e.wantFinal = e.wantFinal || crit == "final"
			if e.final == neg {
				result = false
			}
			continue
		}
		if i+1 >= len(l.args) {
			return false, l.errorf("missing Match criteria for %s", a)
		}
		i++
		r, err := e.criterion(l, crit, l.args[i], host, result && !never)
		if err != nil {
			return false, err
		}
		if r == neg {
			result = false
		}
	}
	if attrs == 0 {
		return false, l.errorf("one or more attributes required for Match")
	}
	return result, nil
}

func (e *cfgEval) criterion(l cfgLine, crit, arg, host string, decides bool) (bool, error) {
	switch crit {
	case "host":
		return matchHostname(host, arg), nil
	case "originalhost":
		return matchHostname(e.original, arg), nil
	case "user":
		return matchPatternList(e.userSoFar(), arg, false) == 1, nil
	case "localuser":
		return matchPatternList(e.localUser, arg, false) == 1, nil
	case "exec":
		if !decides {
			return false, nil
		}
		return false, l.errorf("Match exec is not supported (it would run %s to decide whether the block applies)",
			inputfile.Excerpt(arg, 0))
	}
	return false, l.errorf("unsupported Match attribute %s", crit)
}

// matchHost is the host name Match host tests: in the final pass the
// host name, else the HostName obtained so far (with %h expanded) or the
// host as given.
func (e *cfgEval) matchHost() (string, error) {
	if e.final {
		return e.host, nil
	}
	v, ok := e.opts.get("hostname")
	if !ok {
		return e.host, nil
	}
	h, bad := expandTokens(v.first(), hostNameTokens, tokens{'h': e.host})
	if bad != "" {
		return "", v.line.errorf("HostName %q: unknown token %s", v.first(), bad)
	}
	return h, nil
}

func (e *cfgEval) userSoFar() string {
	if v, ok := e.opts.get("user"); ok {
		return v.first()
	}
	return e.localUser
}

// checkArgs checks a line's arguments against its keyword's shape, on
// every line, matching or not, as ssh does.
func checkArgs(kw *keyword, l cfgLine) error {
	switch kw.kind {
	case argRest:
		return nil
	case argJump:
		return checkJump(l)
	case argAny:
		if len(l.args) == 0 {
			return l.errorf("%s: missing argument", kw.name)
		}
		return nil
	case argList:
		return checkList(kw, l)
	}
	if len(l.args) != 1 {
		if len(l.args) == 0 {
			return l.errorf("%s: missing argument", kw.name)
		}
		return l.errorf("%s: extra arguments at end of line", kw.name)
	}
	return checkValue(kw, l, l.args[0])
}

func checkValue(kw *keyword, l cfgLine, v string) error {
	invalid := func(want string) error { return l.errorf("%s %q: want %s", kw.name, v, want) }
	switch kw.kind {
	case argFlag:
		if !containsFold(yesNo, v) {
			return invalid("yes or no")
		}
	case argChoice:
		if !containsFold(kw.choices, v) {
			return invalid(strings.Join(kw.choices, ", "))
		}
	case argPort:
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
			return invalid("a port number 1..65535")
		}
	case argInt:
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return invalid("an integer")
		}
	case argTime:
		if _, err := convTime(v); err != nil && v != "none" {
			return invalid("seconds, or a time such as 30s, 5m, 1h30m")
		}
	}
	return nil
}

func checkList(kw *keyword, l cfgLine) error {
	if len(l.args) == 0 {
		return l.errorf("%s: missing argument", kw.name)
	}
	for _, a := range l.args {
		if a == "" {
			return l.errorf("keyword %s empty argument", kw.name)
		}
		if strings.EqualFold(a, "none") && len(l.args) > 1 {
			return l.errorf("keyword %s \"none\" argument must appear alone", kw.name)
		}
	}
	return nil
}

// checkJump checks every hop of a ProxyJump list.
func checkJump(l cfgLine) error {
	s, _, _ := strings.Cut(l.rest, "#")
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return nil
	}
	for _, hop := range strings.Split(s, ",") {
		if _, _, _, err := parseJumpHop(hop); err != nil {
			return l.errorf("invalid ProxyJump %q", s)
		}
	}
	return nil
}

// parseJumpHop parses "[user@]host[:port]" or "ssh://[user@]host[:port]".
func parseJumpHop(hop string) (user, host string, port int, err error) {
	if rest, ok := strings.CutPrefix(hop, "ssh://"); ok {
		hop = strings.TrimSuffix(rest, "/")
	}
	if hop == "" {
		return "", "", 0, fmt.Errorf("bad jump host %q", hop)
	}
	return ParseKey(hop)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// sshDirOf is ~/.ssh for home.
func sshDirOf(home string) string { return filepath.Join(home, ".ssh") }

// convTime parses OpenSSH's time format (sshd_config(5) TIME FORMATS): a
// sequence of numbers, each optionally followed by s, m, h, d or w (any
// case); a bare number is seconds. The total must not exceed a year.
func convTime(s string) (time.Duration, error) {
	const max = 365 * 24 * time.Hour
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, fmt.Errorf("bad time %q", s)
		}
		n, _ := strconv.Atoi(rest[:i])
		unit := time.Second
		rest = rest[i:]
		if rest != "" {
			switch rest[0] {
			case 's', 'S':
			case 'm', 'M':
				unit = time.Minute
			case 'h', 'H':
				unit = time.Hour
			case 'd', 'D':
				unit = 24 * time.Hour
			case 'w', 'W':
				unit = 7 * 24 * time.Hour
			default:
				return 0, fmt.Errorf("bad time %q", s)
			}
			rest = rest[1:]
		}
		if total += time.Duration(n) * unit; total > max {
			return 0, fmt.Errorf("time %q over a year", s)
		}
	}
	return total, nil
}
