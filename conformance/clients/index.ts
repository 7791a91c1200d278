// Every client the conformance run knows, in column order.

import type { Driver } from '../lib.js';
import { awsCli, awsCliV2 } from './aws-cli.js';
import { boto3 } from './boto3.js';
import { minioJs } from './minio-js.js';
import { rclone } from './rclone.js';
import { s3cmd } from './s3cmd.js';
import { sdkJs } from './sdk-js.js';

export const DRIVERS: Driver[] = [awsCli, awsCliV2, boto3, sdkJs, s3cmd, rclone, minioJs];

export const CLIENT_NAMES = DRIVERS.map((d) => d.name);
