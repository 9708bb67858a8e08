"""Interop oracle: PyJWT 2.15 and joserfc 1.8 as independent JWS implementations.

  jwt_oracle.py verify PUBLIC_PEM_FILE TOKEN   -> prints "pyjwt ok|fail <Error>" and
                                                  "joserfc ok|fail <Error>", one line each
  jwt_oracle.py mint ALG OUTDIR CLAIMS_JSON     -> writes OUTDIR/public.pem and prints
                                                  one token minted by PyJWT and one by joserfc
  jwt_oracle.py times CLAIMS_JSON LEEWAY NOW... -> PyJWT's time checks (iat, nbf, exp, as
                                                  jwt.decode runs them) at each NOW: one
                                                  line each, ok|expired|not_yet_valid|
                                                  issued_in_future
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


def times(claims_json, leeway, nows):
    # jwt.decode reads its clock itself; its claim checks take `now`.
    payload = json.loads(claims_json)
    checker = jwt.api_jwt.PyJWT()
    for now in nows:
        try:
            if "iat" in payload:
                checker._validate_iat(payload, float(now), float(leeway))
            if "nbf" in payload:
                checker._validate_nbf(payload, float(now), float(leeway))
            if "exp" in payload:
                checker._validate_exp(payload, float(now), float(leeway))
            print("ok")
        except jwt.ExpiredSignatureError:
            print("expired")
        except jwt.ImmatureSignatureError as e:
            print("not_yet_valid" if "(nbf)" in str(e) else "issued_in_future")


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "times":
        times(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        mint(sys.argv[2], sys.argv[3], sys.argv[4])
