package models

// Client authentication methods (RFC 7591 token_endpoint_auth_method).
// A client with AuthSecret, or no method at all (rows of before), holds
// secrets and may send them with Basic or in the body.
const (
	AuthSecret        = "client_secret_basic"
	AuthPrivateKeyJWT = "private_key_jwt"
	// AuthFederated: the client stores no secret and no keys; it sends a
	// workload token of a trusted issuer as its client assertion, which
	// must match the client's Federation binding.
	AuthFederated = "federated"
)

// UsesKeys reports whether the client authenticates with public keys
// (private_key_jwt) rather than a secret.
func (c *Client) UsesKeys() bool { return c.AuthMethod == AuthPrivateKeyJWT }

// Federated reports whether the client authenticates with a federated
// workload token (AuthFederated).
func (c *Client) Federated() bool { return c.AuthMethod == AuthFederated }
