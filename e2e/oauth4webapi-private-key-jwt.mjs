// Interoperability of private_key_jwt (RFC 7523): oauth4webapi, a client
// nobody on the project wrote, signs the client assertion itself
// (oauth.PrivateKeyJwt). Run by TestOAuth4WebAPIPrivateKeyJWT
// (cmd/authz/interop_test.go), which registers the client with the public
// half of the key and serves authz on loopback.
//
// Environment: AUTHZ_ISSUER (http://127.0.0.1:…), CLIENT_ID, KEY_FILE (the
// client's ES256 private key, PKCS#8 PEM), KID, SCOPE. Prints one JSON line
// of what it saw; exits non-zero on any failure.
import * as oauth from "oauth4webapi";
import { readFileSync } from "node:fs";

const { AUTHZ_ISSUER, CLIENT_ID, KEY_FILE, KID, SCOPE } = process.env;
const issuer = new URL(AUTHZ_ISSUER);
const client = { client_id: CLIENT_ID };

const pem = readFileSync(KEY_FILE, "utf8").replace(/-----[^-]+-----|\s/g, "");
const key = await crypto.subtle.importKey("pkcs8", Buffer.from(pem, "base64"), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
const auth = oauth.PrivateKeyJwt({ key, kid: KID });

// Loopback over plain http: the TLS interop test covers https.
const insecure = { [oauth.allowInsecureRequests]: true };
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));

// The grant, keeping the request body to replay its assertion below.
let sentBody;
const response = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: SCOPE }, {
	...insecure,
	[oauth.customFetch]: (url, options) => {
		sentBody = options.body.toString();
		return fetch(url, options);
	},
});
const token = await oauth.processClientCredentialsResponse(as, client, response);

// The same assertion again: refused, its jti was used.
const replay = await fetch(as.token_endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: sentBody });
const replayBody = await replay.json();

console.log(JSON.stringify({
	auth_methods: as.token_endpoint_auth_methods_supported,
	signing_algs: as.token_endpoint_auth_signing_alg_values_supported,
	token_type: token.token_type,
	scope: token.scope,
	assertion_sent: new URLSearchParams(sentBody).get("client_assertion_type"),
	replay_status: replay.status,
	replay_error: replayBody.error,
	replay_description: replayBody.error_description,
}));
