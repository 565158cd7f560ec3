// Interoperability over TLS: oauth4webapi, a standard OAuth client that
// refuses plain http unless told otherwise, against an authz serving HTTPS.
// Run by TestOAuth4WebAPIOverTLS (cmd/authz/interop_test.go), which starts
// the server with a generated certificate and trusts its CA through
// NODE_EXTRA_CA_CERTS.
//
// Environment: AUTHZ_ISSUER (https://…), CLIENT_ID, CLIENT_SECRET, SCOPE,
// AUDIENCE. Prints one JSON line of what it saw; exits non-zero on any
// failure.
import * as oauth from "oauth4webapi";

const { AUTHZ_ISSUER, CLIENT_ID, CLIENT_SECRET, SCOPE, AUDIENCE } = process.env;
const issuer = new URL(AUTHZ_ISSUER);
const client = { client_id: CLIENT_ID };
const auth = oauth.ClientSecretBasic(CLIENT_SECRET);

// The library's default, used below unchanged, refuses plain http: the
// success over https is not an opt-out in disguise.
let plainRefused = false;
try {
	await oauth.discoveryRequest(new URL("http://127.0.0.1:9/"), { algorithm: "oauth2" });
} catch (err) {
	plainRefused = err.code === oauth.HTTP_REQUEST_FORBIDDEN;
}
if (!plainRefused) {
	throw new Error("oauth4webapi did not refuse a plain http issuer");
}

// RFC 8414 discovery, then the client_credentials grant.
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2" }));
const response = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: SCOPE });
const token = await oauth.processClientCredentialsResponse(as, client, response);

// The token as a resource server checks it: RFC 9068 against the JWKS the
// discovery document names.
const request = new Request(new URL("/resource", issuer), { headers: { authorization: `Bearer ${token.access_token}` } });
const claims = await oauth.validateJwtAccessToken(as, request, AUDIENCE);

console.log(JSON.stringify({
	issuer: as.issuer,
	token_endpoint: as.token_endpoint,
	token_type: token.token_type,
	scope: token.scope,
	iss: claims.iss,
	client_id: claims.client_id,
	plain_http_refused: plainRefused,
}));
