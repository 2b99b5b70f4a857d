"""The fake AWS's shared constants, error type and time formats (see fake_aws.py)."""

import time


SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


SKEW_LIMIT = 300  # seconds, as AWS


MAX_BODY = 1 << 20


MAX_RECORDS = 10000


HUGE_SIZE = 10 * 1024 * 1024


JSON_11 = "application/x-amz-json-1.1"


JSON_10 = "application/x-amz-json-1.0"


FORM = "application/x-www-form-urlencoded"


CW_TARGET_PREFIX = "GraniteServiceVersion20100801."


CW_XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def utc_iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


REQUEST_FAULTS = ("throttle", "500", "garbage", "truncated", "stall", "close",
                  "nul", "nul_escaped", "huge")


OTHER_FAULTS = ("skew", "expired_creds", "creds_500", "meta_500")


# Where each error __type lives in Coral style.
CORAL_SERVICE = "com.amazon.coral.service"


CORAL_VALIDATE = "com.amazon.coral.validate"


SSM_NAMESPACE = "com.amazonaws.ssm"


ERROR_NAMESPACE = {
    "MissingAuthenticationTokenException": CORAL_SERVICE,
    "IncompleteSignatureException": CORAL_SERVICE,
    "InvalidSignatureException": CORAL_SERVICE,
    "UnrecognizedClientException": CORAL_SERVICE,
    "ExpiredTokenException": CORAL_SERVICE,
    "ThrottlingException": CORAL_SERVICE,
    "SerializationException": CORAL_SERVICE,
    "UnknownOperationException": CORAL_SERVICE,
    "ValidationException": CORAL_VALIDATE,
}


MSG_BAD_SIGNATURE = ("The request signature we calculated does not match the signature "
                     "you provided. Check your AWS Secret Access Key and signing method. "
                     "Consult the service documentation for details.")


MSG_INVALID_TOKEN = "The security token included in the request is invalid."


MSG_EXPIRED_TOKEN = "The security token included in the request is expired"


def utc_stamp(epoch):
    return time.strftime(SIGV4_TIMESTAMP, time.gmtime(epoch))


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class AwsError(Exception):
    """An error answered in awsJson 1.1 shape."""

    def __init__(self, name, message=None, status=400, member="message"):
        super().__init__(name)
        self.name = name
        self.message = message
        self.status = status
        self.member = member
