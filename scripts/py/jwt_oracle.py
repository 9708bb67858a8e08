"""Interop oracle: PyJWT 2.15 and joserfc 1.8 as independent JWS implementations.

  jwt_oracle.py verify PUBLIC_PEM_FILE TOKEN   -> prints "pyjwt ok|fail <Error>" and
                                                  "joserfc ok|fail <Error>", one line each
  jwt_oracle.py mint ALG OUTDIR CLAIMS_JSON     -> writes OUTDIR/public.pem and prints
                                                  one token minted by PyJWT and one by joserfc
"""
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey


def verify(pem_path, token):
    pem = open(pem_path, "rb").read()
    key = serialization.load_pem_public_key(pem)
    alg = "ES256" if isinstance(key, ec.EllipticCurvePublicKey) else "EdDSA"
    try:
        jwt.decode(token, key, algorithms=[alg], options={"verify_aud": False, "verify_exp": False})
        print("pyjwt ok")
    except Exception as e:  # noqa: BLE001
        print("pyjwt fail", type(e).__name__)
    try:
        k = ECKey.import_key(pem) if alg == "ES256" else OKPKey.import_key(pem)
        jws.deserialize_compact(token, k, algorithms=[alg])
        print("joserfc ok")
    except Exception as e:  # noqa: BLE001
        print("joserfc fail", type(e).__name__)


def mint(alg, outdir, claims_json):
    claims = json.loads(claims_json)
    if alg == "ES256":
        priv = ec.generate_private_key(ec.SECP256R1())
    else:
        priv = ed25519.Ed25519PrivateKey.generate()
    pem = priv.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    open(outdir + "/public.pem", "wb").write(pem)
    print(jwt.encode(claims, priv, algorithm=alg))
    priv_pem = priv.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    k = ECKey.import_key(priv_pem) if alg == "ES256" else OKPKey.import_key(priv_pem)
    print(jws.serialize_compact({"alg": alg, "typ": "JWT"}, json.dumps(claims).encode(), k, algorithms=[alg]))


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    else:
        mint(sys.argv[2], sys.argv[3], sys.argv[4])
