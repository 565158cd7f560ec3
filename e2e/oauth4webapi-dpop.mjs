// DPoP interoperability (RFC 9449): oauth4webapi, which makes its own DPoP
// proofs, obtains a DPoP-bound token from an authz serving HTTPS with
// server nonces on, and is refused a proof for another URL of the same
// server. Run by TestOAuth4WebAPIDPoP (cmd/authz/interop_dpop_test.go),
// which starts the server and trusts its CA through NODE_EXTRA_CA_CERTS.
//
// Environment: AUTHZ_ISSUER (https://127.0.0.1:PORT), CLIENT_ID,
// CLIENT_SECRET, SCOPE. Prints one JSON line of what it saw; exits
// non-zero on any failure.
import * as oauth from "oauth4webapi";

const { AUTHZ_ISSUER, CLIENT_ID, CLIENT_SECRET, SCOPE } = process.env;
const issuer = new URL(AUTHZ_ISSUER);
const client = { client_id: CLIENT_ID };
const auth = oauth.ClientSecretBasic(CLIENT_SECRET);
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2" }));

const keyPair = await oauth.generateKeyPair("ES256");
const DPoP = oauth.DPoP(client, keyPair);

// The first request has no nonce: authz answers use_dpop_nonce with a
// DPoP-Nonce header, which the DPoP handle keeps; the retry carries it.
async function dpopToken(server) {
	let nonceRetried = false;
	for (;;) {
		const response = await oauth.clientCredentialsGrantRequest(server, client, auth, { scope: SCOPE }, { DPoP });
		try {
			return { token: await oauth.processClientCredentialsResponse(server, client, response), nonceRetried };
		} catch (err) {
			if (!nonceRetried && oauth.isDPoPNonceError(err)) {
				nonceRetried = true;
				continue;
			}
			throw err;
		}
	}
}

const { token, nonceRetried } = await dpopToken(as);

// The same server under another name its certificate holds (localhost):
// the proof's htu names that URL, not the issuer's token endpoint, and is
// refused whatever the Host header says.
const other = { ...as, token_endpoint: as.token_endpoint.replace("127.0.0.1", "localhost") };
let wrongURL = "";
try {
	await dpopToken(other);
} catch (err) {
	wrongURL = err.error ?? err.cause?.error ?? String(err);
}

console.log(JSON.stringify({
	token_type: token.token_type,
	access_token: token.access_token,
	nonce_retried: nonceRetried,
	public_jwk: await crypto.subtle.exportKey("jwk", keyPair.publicKey),
	wrong_url_error: wrongURL,
}));
