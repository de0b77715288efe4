#!/usr/bin/env bash
# Deploy the scheduled aa-scan in one command, from a checkout, with the AWS CLI's credentials
# of the account that runs it (Access Analyzer's delegated administrator):
#
#   deploy/deploy.sh ARTIFACT_BUCKET [Parameter=Value ...]
#   deploy/deploy.sh my-artifacts MemberRoleName=aa-scan-member SecurityHub=true
#
# It builds the function's zip (deploy/build_lambda.py, pinned versions), uploads it to
# ARTIFACT_BUCKET under a name made of its SHA-256 (so a new build updates the function), and
# creates or updates the stack (AA_SCAN_STACK, default aa-scan) from deploy/template.yaml,
# passing on the parameters given (see the template: Schedule, FailOn, AdminRoleName,
# MemberRoleName, CreateSigningKey, ObjectLockDays, SecurityHub, NotificationEmail).
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
bucket=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
zip="$here/../dist/aa-scan-lambda.zip"
"${PYTHON:-python3}" "$here/build_lambda.py" --output "$zip"
key="aa-scan-lambda-$(sha256sum "$zip" | cut -c1-16).zip"
aws s3 cp "$zip" "s3://$bucket/$key"
aws cloudformation deploy --stack-name "${AA_SCAN_STACK:-aa-scan}" \
    --template-file "$here/template.yaml" --capabilities CAPABILITY_NAMED_IAM \
    --parameter-overrides CodeBucket="$bucket" CodeKey="$key" "$@"
aws cloudformation describe-stacks --stack-name "${AA_SCAN_STACK:-aa-scan}" \
    --query 'Stacks[0].Outputs' --output table
