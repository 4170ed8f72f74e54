package featureflags

import (
	"strconv"

	"github.com/open-feature/go-sdk/openfeature"
)

// envVariant is the variant reported when the environment overrides a flag.
const envVariant = "env"

// envOverride resolves [FlagKillSwitch] from the environment variable set by
// [WithKillSwitchEnv], if it holds a boolean. ok is false when the file decides.
//
// The variable is read at each evaluation of the kill switch (a lookup in the
// process environment, tens of nanoseconds, and only for that key), so a value
// changed with os.Setenv takes effect at once, with no reload.
func (p *FileProvider) envOverride(key string, want valueKind) (resolution, bool) {
	if p.cfg.killEnv == "" || key != FlagKillSwitch {
		return resolution{}, false
	}
	raw, ok := p.cfg.lookupEnv(p.cfg.killEnv)
	if !ok {
		return resolution{}, false
	}
	on, err := strconv.ParseBool(raw)
	if err != nil {
		return resolution{}, false
	}
	md := p.envMeta
	if want != kindBool {
		return errorResolution(openfeature.NewTypeMismatchResolutionError(
			"flag \""+key+"\" is boolean"), md), true
	}
	return resolution{value: on, reason: openfeature.StaticReason, variant: envVariant, metadata: md}, true
}
