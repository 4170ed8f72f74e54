package legacy

import "context"

// DecideConn takes the decision a command on c (a router connection) takes,
// with the connection's cached key and evaluation context.
func DecideConn(c Connection) Decision {
	rc := c.(*routedConn)
	return rc.r.decideCached(context.Background(), rc)
}
