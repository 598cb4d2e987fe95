"""The applicant's steps, composed from issuer, liveness and devicetrust public functions.

Both the browser pages (`web.applicant`) and the JSON API (`web.api`) call these, so the two
front doors behave identically. Each function works inside the request's transaction.
"""
