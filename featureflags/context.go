package featureflags

import "github.com/open-feature/go-sdk/openfeature"

// Attribute names of the evaluation context built by [ServerContext]. Targeting
// rules read them with {"var": "<name>"}.
const (
	AttrHost       = "host"
	AttrPort       = "port"
	AttrUser       = "user"
	AttrAsRoot     = "asRoot"
	AttrServerName = "serverName"
)

// ServerContext returns the evaluation context for a call to the legacy server
// with the given identity: the targeting key is id (so percentage rollouts are
// sticky per server) and the attributes are host, port, user, asRoot and
// serverName. It carries no credentials. The migration router
// (legacy.EvaluationContext) evaluates both flags with it, the kill switch
// included, so a kill-switch rule may target servers.
func ServerContext(id string, host string, port int, user string, asRoot bool, name string) openfeature.EvaluationContext {
	return openfeature.NewEvaluationContext(id, map[string]any{
		AttrHost:       host,
		AttrPort:       port,
		AttrUser:       user,
		AttrAsRoot:     asRoot,
		AttrServerName: name,
	})
}
