#!/usr/bin/python3
"""tests/function/lib/s3util.py — boto3 helper for shell tests (an S3 client independent of ours).

Endpoint and credentials from the environment (source build/local/ceph/env or the stack env).
  s3util.py mb BUCKET
  s3util.py put BUCKET KEY (--data STR | --file PATH)
  s3util.py put-files BUCKET KEY=PATH...   several objects from files, one client
  s3util.py snapshot BUCKET          JSON {key: {size, etag, content_type, meta, last_modified}}
  s3util.py exists BUCKET KEY        exit 0 if it exists, 1 if not
"""
import json
import os
import sys

import boto3
from botocore.config import Config


def client():
    return boto3.client("s3", endpoint_url=os.environ["AK_S3_ENDPOINT"],
                        region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))


def main(a):
    s3 = client()
    if a[0] == "mb":
        try:
            s3.create_bucket(Bucket=a[1])
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    elif a[0] == "put":
        body = a[4].encode() if a[3] == "--data" else open(a[4], "rb").read()
        s3.put_object(Bucket=a[1], Key=a[2], Body=body)
    elif a[0] == "put-files":
        for kv in a[2:]:
            key, path = kv.split("=", 1)
            with open(path, "rb") as f:
                s3.put_object(Bucket=a[1], Key=key, Body=f.read())
    elif a[0] == "snapshot":
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=a[1]):
            for o in page.get("Contents", []):
                h = s3.head_object(Bucket=a[1], Key=o["Key"])
                out[o["Key"]] = {"size": o["Size"], "etag": h["ETag"], "content_type": h.get("ContentType"),
                                 "meta": h.get("Metadata", {}), "last_modified": h["LastModified"].isoformat()}
        json.dump(out, sys.stdout, indent=1, sort_keys=True)
    elif a[0] == "exists":
        try:
            s3.head_object(Bucket=a[1], Key=a[2])
        except Exception:
            return 1
    else:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
