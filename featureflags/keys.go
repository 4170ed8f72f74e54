package featureflags

// Flag keys used by sshpool. They are the keys of the flag file's "flags" object.
const (
	// FlagKillSwitch is the boolean flag that, when true, routes every call to the
	// legacy pool whatever any other flag says.
	FlagKillSwitch = "kill-switch"

	// FlagUseNewPool is the boolean flag evaluated per call, with the legacy server's
	// ID as targeting key, that decides whether the new pool serves the call.
	FlagUseNewPool = "use-new-pool"
)

// DefaultKillSwitchEnv is the conventional environment variable for
// [WithKillSwitchEnv]: an operator who cannot edit the flag file sets it to a
// boolean ("true", "false", "1", "0", ...) to force [FlagKillSwitch].
const DefaultKillSwitchEnv = "SSHPOOL_KILL_SWITCH"
