package sshconn

import (
	"sort"
	"strings"
)

// KeywordStatus is what SSHConfig does with an ssh_config keyword.
type KeywordStatus int

const (
	// KeywordSupported keywords are applied as ssh applies them.
	KeywordSupported KeywordStatus = iota
	// KeywordIgnored keywords do not change where or how a connection is
	// made by a non-interactive client (logging, terminals, X11, escape
	// characters, ...): they are checked and otherwise ignored.
	KeywordIgnored
	// KeywordWarning keywords would change how ssh connects but are not
	// implemented; a value that matters is logged once per file line, at
	// WARN, naming file, line and keyword, and the connection is made
	// without it.
	KeywordWarning
	// KeywordError keywords would bypass a proxy, weaken host key checking
	// or send the connection elsewhere if ignored: a value that matters
	// makes Resolve fail with a *ConfigError naming file, line and keyword.
	KeywordError
)

// String returns "supported", "ignored", "warning" or "error".
func (s KeywordStatus) String() string {
	return [...]string{"supported", "ignored", "warning", "error"}[s]
}

// KeywordInfo describes how SSHConfig handles one ssh_config keyword.
type KeywordInfo struct {
	// Name is the keyword as ssh_config(5) spells it.
	Name string
	// Status is what SSHConfig does with it.
	Status KeywordStatus
	// Note says when a warning or error applies, or how a supported
	// keyword maps onto Target.
	Note string
}

// argKind is the shape of a keyword's arguments, checked on every line
// (matching or not) as ssh checks them.
type argKind int

const (
	argOne    argKind = iota // exactly one argument
	argFlag                  // yes, no, true or false
	argChoice                // one of the keyword's choices
	argPort                  // 1..65535
	argInt                   // a decimal integer
	argTime                  // an OpenSSH time, or none
	argList                  // one or more arguments; "none" only alone
	argAny                   // one or more arguments, not checked
	argRest                  // the rest of the line (a command)
	argJump                  // a ProxyJump list
	argAccum                 // one argument per line, accumulated (IdentityFile)
)

// keyword is the table entry of one ssh_config keyword.
type keyword struct {
	name    string
	kind    argKind
	choices []string
	status  KeywordStatus
	// matters reports, for the value in effect, why ignoring it would
	// matter ("" when it would not); nil means any value matters.
	matters func(v cfgValue, o *cfgOptions) string
	note    string
}

func unlessOff(v cfgValue, _ *cfgOptions) string {
	switch strings.ToLower(v.first()) {
	case "no", "false", "none":
		return ""
	}
	return "set to " + v.first()
}

func whenYes(v cfgValue, _ *cfgOptions) string {
	switch strings.ToLower(v.first()) {
	case "yes", "true", "ask", "always":
		return "set to " + v.first()
	}
	return ""
}

var (
	yesNo        = []string{"yes", "no", "true", "false"}
	yesNoAsk     = []string{"yes", "no", "true", "false", "ask"}
	strictValues = []string{"yes", "no", "true", "false", "ask", "off", "accept-new"}
)

// keywordTable lists every keyword OpenSSH 9.2's ssh (with Debian's GSSAPI
// additions) knows, and the later ones a newer configuration may hold, by
// lower-case name. Aliases point at the same entry.
var keywordTable = buildKeywordTable([]keyword{
	// Supported: applied to the Target.
	{name: "HostName", kind: argOne, note: "Target.Host; %h and %% expanded, lower-cased unless an address"},
	{name: "Port", kind: argPort, note: "Target.Port"},
	{name: "User", kind: argOne, note: "Target.User"},
	{name: "IdentityFile", kind: argAccum, note: "Auth.IdentityFiles, accumulated in order; ~, ${VAR} and tokens expanded"},
	{name: "CertificateFile", kind: argAccum, note: "Auth.CertificateFiles, accumulated; paired with the identity or agent key they certify"},
	{name: "IdentitiesOnly", kind: argFlag, note: "Auth.IdentitiesOnly: only configured identities, and agent keys matching them, are offered"},
	{name: "IdentityAgent", kind: argOne, note: "Auth.Agent/AgentSocket: a path, SSH_AUTH_SOCK, $VAR, or none"},
	{name: "PubkeyAuthentication", kind: argChoice, choices: []string{"yes", "no", "true", "false", "unbound", "host-bound"}, note: "no: Auth.DisablePublicKey"},
	{name: "PasswordAuthentication", kind: argFlag, note: "no: Auth.DisablePassword"},
	{name: "KbdInteractiveAuthentication", kind: argFlag, note: "no: Auth.DisableKeyboardInteractive"},
	{name: "ProxyJump", kind: argJump, note: "Target.JumpHosts; the first of ProxyJump and ProxyCommand wins, as in ssh"},
	{name: "ProxyCommand", kind: argRest, note: "Target.ProxyCommand, run by /bin/sh; %h %k %n %p %r %% expanded; none disables"},
	{name: "HostKeyAlias", kind: argOne, note: "Target.HostKeyAlias: the name known_hosts is checked and written under"},
	{name: "UserKnownHostsFile", kind: argList, note: "Target.KnownHostsFiles; ~, ${VAR} and tokens expanded; none"},
	{name: "GlobalKnownHostsFile", kind: argList, note: "Target.GlobalKnownHostsFiles, read only; none"},
	{name: "StrictHostKeyChecking", kind: argChoice, choices: strictValues, note: "yes/ask: strict; accept-new; no/off: accept-new, or insecure when every known_hosts file is /dev/null"},
	{name: "HashKnownHosts", kind: argFlag, note: "Target.HashKnownHosts"},
	{name: "ConnectTimeout", kind: argTime, note: "Target.DialTimeout"},
	{name: "ServerAliveInterval", kind: argTime, note: "Target.KeepaliveInterval"},
	{name: "ServerAliveCountMax", kind: argInt, note: "Target.KeepaliveTimeout is ServerAliveInterval × ServerAliveCountMax"},
	{name: "TCPKeepAlive", kind: argFlag, note: "no: Target.TCPKeepAlive < 0"},
	{name: "BatchMode", kind: argFlag, note: "always in effect: nothing ever prompts"},

	// Refused when in effect: ignoring them could bypass a proxy, weaken
	// host key checking, or connect somewhere else.
	{name: "CanonicalizeHostname", kind: argChoice, choices: []string{"yes", "no", "true", "false", "always"}, status: KeywordError, matters: whenYes,
		note: "yes/always: would change the host name through DNS and re-read the configuration"},
	{name: "CanonicalizePermittedCNAMEs", kind: argAny, status: KeywordError, matters: unlessOff,
		note: "anything but none: would follow DNS CNAMEs to another host name"},
	{name: "RevokedHostKeys", kind: argOne, status: KeywordError, matters: unlessOff,
		note: "anything but none: ignoring it would accept the keys it revokes"},
	{name: "ProxyUseFdpass", kind: argFlag, status: KeywordError, matters: fdpassMatters,
		note: "yes with a ProxyCommand: the command would hand over a socket instead of relaying"},
	{name: "RefuseConnection", kind: argFlag, status: KeywordError, matters: whenYes,
		note: "yes: the configuration forbids connecting to this host"},

	// Warned once per line when in effect, then ignored.
	{name: "AddressFamily", kind: argChoice, choices: []string{"any", "inet", "inet6"}, status: KeywordWarning, matters: func(v cfgValue, _ *cfgOptions) string {
		if strings.EqualFold(v.first(), "any") {
			return ""
		}
		return "set to " + v.first()
	}, note: "inet/inet6: both families are dialled"},
	{name: "BindAddress", kind: argOne, status: KeywordWarning, note: "the system picks the source address"},
	{name: "BindInterface", kind: argOne, status: KeywordWarning, note: "the system picks the interface"},
	{name: "CASignatureAlgorithms", kind: argOne, status: KeywordWarning, note: "x/crypto's algorithms are used"},
	{name: "CheckHostIP", kind: argFlag, status: KeywordWarning, matters: whenYes, note: "yes: the address is not checked in known_hosts (the host name is)"},
	{name: "Ciphers", kind: argOne, status: KeywordWarning, note: "x/crypto's algorithms are used"},
	{name: "ConnectionAttempts", kind: argInt, status: KeywordWarning, matters: func(v cfgValue, _ *cfgOptions) string {
		if v.first() == "1" {
			return ""
		}
		return "set to " + v.first()
	}, note: "the Factory's retry policy applies"},
	{name: "ControlMaster", kind: argChoice, choices: []string{"yes", "no", "true", "false", "auto", "ask", "autoask"}, status: KeywordWarning, matters: unlessOff,
		note: "the pool multiplexes sessions over its own connections"},
	{name: "ControlPath", kind: argOne, status: KeywordWarning, matters: unlessOff, note: "the pool multiplexes sessions over its own connections"},
	{name: "ControlPersist", kind: argOne, status: KeywordWarning, matters: unlessOff, note: "the pool multiplexes sessions over its own connections"},
	{name: "DynamicForward", kind: argAny, status: KeywordWarning, note: "no forwarding is set up"},
	{name: "ForwardAgent", kind: argOne, status: KeywordWarning, matters: unlessOff, note: "the agent is never forwarded"},
	{name: "HostKeyAlgorithms", kind: argOne, status: KeywordWarning, note: "derived from the keys recorded in known_hosts"},
	{name: "HostbasedAuthentication", kind: argFlag, status: KeywordWarning, matters: whenYes, note: "host-based authentication is not offered"},
	{name: "KexAlgorithms", kind: argOne, status: KeywordWarning, note: "x/crypto's algorithms are used"},
	{name: "KnownHostsCommand", kind: argRest, status: KeywordWarning, matters: unlessOff, note: "only known_hosts files are consulted"},
	{name: "LocalCommand", kind: argRest, status: KeywordWarning, matters: localCommandMatters, note: "with PermitLocalCommand yes: never run"},
	{name: "LocalForward", kind: argAny, status: KeywordWarning, note: "no forwarding is set up"},
	{name: "MACs", kind: argOne, status: KeywordWarning, note: "x/crypto's algorithms are used"},
	{name: "NoHostAuthenticationForLocalhost", kind: argFlag, status: KeywordWarning, matters: whenYes, note: "yes: localhost's key is checked anyway"},
	{name: "PKCS11Provider", kind: argOne, status: KeywordWarning, matters: unlessOff, note: "keys of a PKCS#11 token are not offered"},
	{name: "PreferredAuthentications", kind: argOne, status: KeywordWarning, note: "methods are offered as publickey, keyboard-interactive, password"},
	{name: "PubkeyAcceptedAlgorithms", kind: argOne, status: KeywordWarning, note: "x/crypto's algorithms are used"},
	{name: "RekeyLimit", kind: argAny, status: KeywordWarning, note: "x/crypto's rekeying applies"},
	{name: "RemoteCommand", kind: argRest, status: KeywordWarning, matters: unlessOff, note: "the caller's commands are run"},
	{name: "RemoteForward", kind: argAny, status: KeywordWarning, note: "no forwarding is set up"},
	{name: "RequiredRSASize", kind: argInt, status: KeywordWarning, note: "x/crypto's minimum applies"},
	{name: "SetEnv", kind: argAny, status: KeywordWarning, note: "commands get their environment from pool.Command.Env"},
	{name: "Tunnel", kind: argChoice, choices: []string{"yes", "no", "true", "false", "point-to-point", "ethernet"}, status: KeywordWarning, matters: unlessOff, note: "no tunnel device is opened"},
	{name: "VerifyHostKeyDNS", kind: argChoice, choices: yesNoAsk, status: KeywordWarning, matters: whenYes, note: "SSHFP records are not consulted; known_hosts is"},
	{name: "ChannelTimeout", kind: argAny, status: KeywordWarning, note: "(OpenSSH 9.3+) idle channels are not closed"},

	// Ignored: no effect on where or how a non-interactive client connects.
	{name: "AddKeysToAgent", kind: argAny, status: KeywordIgnored, note: "keys are never added to the agent"},
	{name: "CanonicalDomains", kind: argAny, status: KeywordIgnored, note: "used only with CanonicalizeHostname"},
	{name: "CanonicalizeFallbackLocal", kind: argFlag, status: KeywordIgnored, note: "used only with CanonicalizeHostname"},
	{name: "CanonicalizeMaxDots", kind: argInt, status: KeywordIgnored, note: "used only with CanonicalizeHostname"},
	{name: "ClearAllForwardings", kind: argFlag, status: KeywordIgnored, note: "no forwarding is ever set up"},
	{name: "Compression", kind: argFlag, status: KeywordIgnored, note: "traffic is not compressed"},
	{name: "EnableEscapeCommandline", kind: argFlag, status: KeywordIgnored, note: "interactive only"},
	{name: "EnableSSHKeysign", kind: argFlag, status: KeywordIgnored, note: "host-based authentication is not used"},
	{name: "EscapeChar", kind: argOne, status: KeywordIgnored, note: "interactive only"},
	{name: "ExitOnForwardFailure", kind: argFlag, status: KeywordIgnored, note: "no forwarding is set up"},
	{name: "FingerprintHash", kind: argOne, status: KeywordIgnored, note: "fingerprints are shown as SHA256"},
	{name: "ForkAfterAuthentication", kind: argFlag, status: KeywordIgnored, note: "interactive only"},
	{name: "ForwardX11", kind: argFlag, status: KeywordIgnored, note: "X11 is never forwarded"},
	{name: "ForwardX11Timeout", kind: argTime, status: KeywordIgnored, note: "X11 is never forwarded"},
	{name: "ForwardX11Trusted", kind: argFlag, status: KeywordIgnored, note: "X11 is never forwarded"},
	{name: "GatewayPorts", kind: argFlag, status: KeywordIgnored, note: "no forwarding is set up"},
	{name: "GSSAPIAuthentication", kind: argFlag, status: KeywordIgnored, note: "GSSAPI is not offered (Debian sets it in /etc/ssh/ssh_config)"},
	{name: "GSSAPIDelegateCredentials", kind: argFlag, status: KeywordIgnored, note: "GSSAPI is not offered"},
	{name: "GSSAPIKeyExchange", kind: argFlag, status: KeywordIgnored, note: "GSSAPI is not offered (Debian)"},
	{name: "GSSAPITrustDNS", kind: argFlag, status: KeywordIgnored, note: "GSSAPI is not offered (Debian)"},
	{name: "GSSAPIRenewalForcesRekey", kind: argFlag, status: KeywordIgnored, note: "GSSAPI is not offered (Debian)"},
	{name: "GSSAPIKexAlgorithms", kind: argOne, status: KeywordIgnored, note: "GSSAPI is not offered (Debian)"},
	{name: "GSSAPIClientIdentity", kind: argOne, status: KeywordIgnored, note: "GSSAPI is not offered (Debian)"},
	{name: "GSSAPIServerIdentity", kind: argOne, status: KeywordIgnored, note: "GSSAPI is not offered (Debian)"},
	{name: "HostbasedAcceptedAlgorithms", kind: argOne, status: KeywordIgnored, note: "host-based authentication is not used"},
	{name: "IPQoS", kind: argAny, status: KeywordIgnored, note: "packets are not marked"},
	{name: "KbdInteractiveDevices", kind: argOne, status: KeywordIgnored, note: "the server's default devices are used"},
	{name: "LogLevel", kind: argOne, status: KeywordIgnored, note: "sshconn logs through slog"},
	{name: "LogVerbose", kind: argAny, status: KeywordIgnored, note: "sshconn logs through slog"},
	{name: "NumberOfPasswordPrompts", kind: argInt, status: KeywordIgnored, note: "a password is never asked twice"},
	{name: "ObscureKeystrokeTiming", kind: argAny, status: KeywordIgnored, note: "(OpenSSH 9.5+) interactive only"},
	{name: "PermitLocalCommand", kind: argFlag, status: KeywordIgnored, note: "see LocalCommand"},
	{name: "PermitRemoteOpen", kind: argAny, status: KeywordIgnored, note: "no remote forwarding is set up"},
	{name: "RequestTTY", kind: argChoice, choices: []string{"yes", "no", "true", "false", "force", "auto"}, status: KeywordIgnored, note: "commands run without a terminal"},
	{name: "SecurityKeyProvider", kind: argOne, status: KeywordIgnored, note: "FIDO keys are used through the agent only"},
	{name: "SendEnv", kind: argAny, status: KeywordIgnored, note: "commands get their environment from pool.Command.Env"},
	{name: "SessionType", kind: argChoice, choices: []string{"none", "subsystem", "default"}, status: KeywordIgnored, note: "the caller opens sessions"},
	{name: "StdinNull", kind: argFlag, status: KeywordIgnored, note: "commands get the caller's stdin"},
	{name: "StreamLocalBindMask", kind: argOne, status: KeywordIgnored, note: "no forwarding is set up"},
	{name: "StreamLocalBindUnlink", kind: argFlag, status: KeywordIgnored, note: "no forwarding is set up"},
	{name: "SyslogFacility", kind: argOne, status: KeywordIgnored, note: "sshconn logs through slog"},
	{name: "Tag", kind: argOne, status: KeywordIgnored, note: "(OpenSSH 9.4+) Match tagged is not supported"},
	{name: "TunnelDevice", kind: argOne, status: KeywordIgnored, note: "see Tunnel"},
	{name: "UpdateHostKeys", kind: argChoice, choices: yesNoAsk, status: KeywordIgnored, note: "known_hosts is never rewritten"},
	{name: "VisualHostKey", kind: argFlag, status: KeywordIgnored, note: "interactive only"},
	{name: "XAuthLocation", kind: argOne, status: KeywordIgnored, note: "X11 is never forwarded"},
	// Deprecated or unsupported in OpenSSH itself, which skips them.
	{name: "Protocol", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "Cipher", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "FallBackToRsh", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "GlobalKnownHostsFile2", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "RhostsAuthentication", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "UserKnownHostsFile2", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "UseRoaming", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "UseRsh", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "UsePrivilegedPort", kind: argAny, status: KeywordIgnored, note: "obsolete"},
	{name: "AFSTokenPassing", kind: argAny, status: KeywordIgnored, note: "unsupported by OpenSSH"},
	{name: "KerberosAuthentication", kind: argAny, status: KeywordIgnored, note: "unsupported by OpenSSH"},
	{name: "KerberosTGTPassing", kind: argAny, status: KeywordIgnored, note: "unsupported by OpenSSH"},
	{name: "RSAAuthentication", kind: argAny, status: KeywordIgnored, note: "unsupported by OpenSSH"},
	{name: "RhostsRSAAuthentication", kind: argAny, status: KeywordIgnored, note: "unsupported by OpenSSH"},
	{name: "CompressionLevel", kind: argAny, status: KeywordIgnored, note: "unsupported by OpenSSH"},
}, map[string]string{
	"keepalive": "tcpkeepalive", "identityfile2": "identityfile", "dsaauthentication": "pubkeyauthentication",
	"challengeresponseauthentication": "kbdinteractiveauthentication", "skeyauthentication": "kbdinteractiveauthentication",
	"tisauthentication": "kbdinteractiveauthentication", "hostbasedkeytypes": "hostbasedacceptedalgorithms",
	"pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms", "smartcarddevice": "pkcs11provider",
})

func buildKeywordTable(list []keyword, aliases map[string]string) map[string]*keyword {
	t := make(map[string]*keyword, len(list)+len(aliases))
	for i := range list {
		t[strings.ToLower(list[i].name)] = &list[i]
	}
	for alias, name := range aliases {
		t[alias] = t[name]
	}
	return t
}

// Keywords returns how SSHConfig handles every ssh_config keyword it
// knows, sorted by name. The structural keywords Host, Match, Include and
// IgnoreUnknown are supported and not listed; a keyword that is not listed
// is an error unless IgnoreUnknown names it, as in ssh.
func Keywords() []KeywordInfo {
	seen := map[*keyword]bool{}
	var out []KeywordInfo
	for _, k := range keywordTable {
		if !seen[k] {
			seen[k] = true
			out = append(out, KeywordInfo{Name: k.name, Status: k.status, Note: k.note})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

func fdpassMatters(v cfgValue, o *cfgOptions) string {
	if whenYes(v, o) == "" {
		return ""
	}
	if pc, ok := o.first["proxycommand"]; !ok || strings.EqualFold(pc.rest, "none") {
		return ""
	}
	return "set to yes with a ProxyCommand"
}

func localCommandMatters(v cfgValue, o *cfgOptions) string {
	if p, ok := o.first["permitlocalcommand"]; !ok || whenYes(p, o) == "" || strings.EqualFold(v.rest, "none") {
		return ""
	}
	return "set with PermitLocalCommand yes"
}
