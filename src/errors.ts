// The one error type for everything a client may see. Every layer throws S3Error with an
// S3 error code; http/ turns it into the XML body and status AWS would send. Codes are the
// ones in the Amazon S3 API reference ("Error responses" → "List of error codes").

const STATUS: Record<string, number> = {
  AccessDenied: 403,
  // A refused CORS preflight (S3 sends this code, not the CORSResponse its error table lists).
  AccessForbidden: 403,
  AccountProblem: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BadRequest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  ConditionalRequestConflict: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidEncryptionAlgorithmError: 400,
  ServerSideEncryptionConfigurationNotFoundError: 404,
  InvalidLocationConstraint: 400,
  InvalidObjectState: 403,
  InvalidPart: 400,
  InvalidPartNumber: 416,
  InvalidPartOrder: 400,
  InvalidPolicyDocument: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidStorageClass: 400,
  InvalidTag: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MalformedPOSTRequest: 400,
  MalformedPolicy: 400,
  MaxMessageLengthExceeded: 400,
  MaxPostPreDataLengthExceededError: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingRequestBodyError: 400,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NoSuchTagSet: 404,
  NoSuchBucketPolicy: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchLifecycleConfiguration: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  RequestHeaderSectionTooLarge: 400,
  RequestTimeout: 400,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
  InvalidChunkSizeError: 403,
  // Not an S3 code: the storage engine could not reach enough healthy shards.
  InsufficientReadQuorum: 503,
  InsufficientWriteQuorum: 503,
  // Not an S3 code (S3 never runs out of space): a disk would go below its free-space reserve,
  // or filled up during the write. 507 Insufficient Storage, which SDKs do not retry.
  XTesseraStorageFull: 507,
  // Not an S3 code either (S3 buckets have no size limit): the bucket's quota (an admin
  // setting) would be exceeded. 403 like other refusals of a well-formed request by policy.
  XTesseraQuotaExceeded: 403,
  // Bucket policies, ACLs and PublicAccessBlock.
  NoSuchPublicAccessBlockConfiguration: 404,
  AccessControlListNotSupported: 400,
  UnresolvableGrantByEmailAddress: 400,
  UnexpectedContent: 400,
  // The admin API (users, keys, policies) answers with IAM's codes for the same situations.
  NoSuchEntity: 404,
  EntityAlreadyExists: 409,
  LimitExceeded: 409,
  DeleteConflict: 409,
  InvalidInput: 400,
  // Admin heal/scan: one job at a time.
  XTesseraJobRunning: 409,
};

export class S3Error extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra elements for the XML body (e.g. StringToSign, BucketName, Key). */
  readonly fields: Record<string, string>;
  /** Extra response headers (e.g. x-amz-delete-marker on NoSuchKey). */
  readonly headers: Record<string, string>;

  constructor(code: string, message?: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(message ?? defaultMessage(code));
    this.name = 'S3Error';
    this.code = code;
    this.status = STATUS[code] ?? 400;
    this.fields = fields;
    this.headers = headers;
  }
}

/**
 * 503 SlowDown: the client should retry later. Retry-After (seconds) tells it when; S3's own
 * SDKs back off on SlowDown whether or not the header is there.
 */
export function slowDown(message?: string, retryAfterSeconds = 1): S3Error {
  return new S3Error('SlowDown', message, {}, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
}

export function isS3Error(e: unknown): e is S3Error {
  return e instanceof S3Error;
}

function defaultMessage(code: string): string {
  switch (code) {
    case 'NoSuchBucket': return 'The specified bucket does not exist';
    case 'NoSuchKey': return 'The specified key does not exist.';
    case 'NoSuchUpload': return 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.';
    case 'NoSuchVersion': return 'The specified version does not exist.';
    case 'NoSuchBucketPolicy': return 'The bucket policy does not exist';
    case 'NoSuchPublicAccessBlockConfiguration': return 'The public access block configuration was not found';
    case 'NoSuchCORSConfiguration': return 'The CORS configuration does not exist';
    case 'NoSuchLifecycleConfiguration': return 'The lifecycle configuration does not exist';
    case 'ServerSideEncryptionConfigurationNotFoundError': return 'The server side encryption configuration was not found';
    case 'BucketNotEmpty': return 'The bucket you tried to delete is not empty';
    case 'BucketAlreadyOwnedByYou': return 'Your previous request to create the named bucket succeeded and you already own it.';
    case 'BucketAlreadyExists': return 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.';
    case 'InvalidBucketName': return 'The specified bucket is not valid.';
    case 'AccessDenied': return 'Access Denied';
    case 'InvalidAccessKeyId': return 'The AWS Access Key Id you provided does not exist in our records.';
    case 'SignatureDoesNotMatch': return 'The request signature we calculated does not match the signature you provided. Check your key and signing method.';
    case 'BadDigest': return 'The Content-MD5 you specified did not match what we received.';
    case 'InvalidDigest': return 'The Content-MD5 you specified is not valid.';
    case 'XAmzContentSHA256Mismatch': return "The provided 'x-amz-content-sha256' header does not match what was computed.";
    case 'InvalidRange': return 'The requested range is not satisfiable';
    case 'PreconditionFailed': return 'At least one of the pre-conditions you specified did not hold';
    case 'NotModified': return 'Not Modified';
    case 'KeyTooLongError': return 'Your key is too long';
    case 'MetadataTooLarge': return 'Your metadata headers exceed the maximum allowed metadata size';
    case 'MalformedPolicy': return 'Policies must be valid JSON and follow the policy grammar.';
    case 'MalformedXML': return 'The XML you provided was not well-formed or did not validate against our published schema';
    case 'NotImplemented': return 'A header you provided implies functionality that is not implemented';
    case 'MethodNotAllowed': return 'The specified method is not allowed against this resource.';
    case 'RequestTimeTooSkewed': return 'The difference between the request time and the current time is too large.';
    case 'MissingContentLength': return 'You must provide the Content-Length HTTP header.';
    case 'EntityTooLarge': return 'Your proposed upload exceeds the maximum allowed size';
    case 'EntityTooSmall': return 'Your proposed upload is smaller than the minimum allowed object size.';
    case 'IncompleteBody': return 'You did not provide the number of bytes specified by the Content-Length HTTP header.';
    case 'InternalError': return 'We encountered an internal error. Please try again.';
    case 'ConditionalRequestConflict': return 'A conflicting operation occurred. If using PutObject you can retry the request. If using CompleteMultipartUpload you can retry the request and all parts must be uploaded again.';
    case 'SlowDown': return 'Please reduce your request rate.';
    case 'RequestTimeout': return 'Your socket connection to the server was not read from or written to within the timeout period.';
    case 'InsufficientReadQuorum': return 'Storage resources are insufficient for the read operation.';
    case 'InsufficientWriteQuorum': return 'Storage resources are insufficient for the write operation.';
    default: return code;
  }
}
