package legacy

import "context"

// DecideConn takes the decision a command on c (a router connection) takes.
func DecideConn(c *PooledConnection) Decision {
	return c.b.(*routedConn).r.decideFor(context.Background(), c.b.(*routedConn), false)
}
