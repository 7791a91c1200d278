// The temporary shared config that aws-cli and boto3 read: SigV4 (aws-cli v1 presigns with
// SigV2 otherwise), path-style addressing, the run's region and keys. Nothing from the user's
// ~/.aws or AWS_* environment is used.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clientEnv, type Endpoint } from '../lib.js';

export async function awsConfigEnv(ep: Endpoint, dir: string): Promise<NodeJS.ProcessEnv> {
  const config = path.join(dir, 'aws-config');
  const credentials = path.join(dir, 'aws-credentials');
  await writeFile(config, `[default]\nregion = ${ep.region}\ns3 =\n    signature_version = s3v4\n    addressing_style = path\n`, { mode: 0o600 });
  await writeFile(credentials, `[default]\naws_access_key_id = ${ep.accessKey}\naws_secret_access_key = ${ep.secretKey}\n`, { mode: 0o600 });
  return {
    // AWS_CA_BUNDLE stays so an HTTPS endpoint with a private CA still works.
    ...clientEnv(['AWS_CA_BUNDLE']),
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}
