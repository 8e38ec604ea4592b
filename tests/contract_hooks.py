"""Schemathesis hooks for the contract run (tests/test_contract.py): the run must keep the
credentials it tests with, so it never revokes the caller's own tokens or changes the caller's
own password. (Both are tested as rules in test_auth.py and test_security.py.)"""

import os

import schemathesis


@schemathesis.hook
def filter_case(context, case) -> bool:
    own_id = int(os.environ.get("CONTRACT_OWN_USER_ID", "0"))
    if case.method == "GET":
        return True
    return (case.path_parameters or {}).get("user_id") != own_id
