#!/usr/bin/env bash
# The main job, `cfnbuild deploy`, on a machine without an AWS account: against a local moto_server.
#
# Starts moto_server (scripts/moto.sh), builds the worker image for real (no Docker daemon) to get its
# digest, deploys both stacks with that image (moto's ECR has no registry to push to, so the image is
# passed with --image-uri), deploys again (the repository stack reports "no changes"), lists what the
# main stack holds, and stops moto_server. Extra arguments go to both deploys (e.g. --network public).
#
#   scripts/deploy-local.sh [DEPLOY FLAGS...]
#   KEEP=1 scripts/deploy-local.sh    leave moto_server running; then: eval "$(scripts/moto.sh env)";
#                                     .tmp/cfnbuild diff --max-tasks 8; .tmp/cfnbuild destroy --yes; scripts/moto.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${STACK:-cfnbuild}

echo "== building cfnbuild and the worker image" >&2
mkdir -p .tmp
go build -o .tmp/cfnbuild ./cmd/cfnbuild
digest=$(.tmp/cfnbuild build)

echo "== starting moto_server" >&2
scripts/moto.sh start >/dev/null
[ "${KEEP:-}" = 1 ] || trap 'scripts/moto.sh stop' EXIT
eval "$(scripts/moto.sh env)"
image="123456789012.dkr.ecr.us-east-1.amazonaws.com/$stack-repository@$digest"

echo "== cfnbuild deploy --stack-name $stack --image-uri $image --yes $*" >&2
.tmp/cfnbuild deploy --stack-name "$stack" --image-uri "$image" --yes "$@"

echo "== deploying again" >&2
.tmp/cfnbuild deploy --stack-name "$stack" --image-uri "$image" --yes "$@" >/dev/null

echo "== resources of stack $stack (moto gives change-set stacks no outputs)" >&2
aws cloudformation describe-stack-resources --stack-name "$stack" \
  --query 'StackResources[].[LogicalResourceId,ResourceType,ResourceStatus]' --output text | grep -v '^None' | sort
