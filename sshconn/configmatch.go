package sshconn

import "strings"

// matchPattern reports whether s matches the OpenSSH pattern p, where '*'
// matches any run of characters and '?' exactly one; everything else
// matches itself, case-sensitively (match_pattern in OpenSSH's match.c).
// It backtracks only to the last '*', so it is linear in practice.
func matchPattern(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// maxSubpattern is the longest subpattern of a pattern list OpenSSH
// considers; a longer one never matches.
const maxSubpattern = 1023

// matchPatternList matches s against a comma-separated pattern list in
// which a pattern prefixed by '!' negates (match_pattern_list): it returns
// -1 when a negated pattern matches, 1 when another pattern matches, 0
// otherwise. With fold, the patterns are lower-cased first.
func matchPatternList(s, list string, fold bool) int {
	positive := 0
	for _, sub := range strings.Split(list, ",") {
		neg := strings.HasPrefix(sub, "!")
		if neg {
			sub = sub[1:]
		}
		if len(sub) > maxSubpattern {
			return 0
		}
		if fold {
			sub = strings.ToLower(sub)
		}
		if matchPattern(s, sub) {
			if neg {
				return -1
			}
			positive = 1
		}
	}
	return positive
}

// matchHostname is match_hostname: the host name lower-cased against a
// pattern list matched without regard to case.
func matchHostname(host, list string) bool {
	return matchPatternList(strings.ToLower(host), list, true) == 1
}

// matchHostLine applies a Host line's patterns to host: the block applies
// when a pattern matches and no negated pattern does.
func matchHostLine(host string, patterns []string) bool {
	active := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if matchPattern(host, p) {
			if neg {
				return false
			}
			active = true
		}
	}
	return active
}
