#!/usr/bin/env bash
# Smoke test of a DynamoDB-compatible endpoint with the real AWS CLI (v1).
#
#   e2e/cli_smoke.sh http://127.0.0.1:8000
#
# Runs a table's whole life cycle through `aws dynamodb ...` with dummy
# credentials and checks every answer. Stops at the first failed step with
# a message naming it (exit 1); on success the last line is
#   cli_smoke: N passed, 0 failed
# The aws binary is $TABULA_AWS if set, else the one e2e/tools.sh installs.
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
    echo "usage: $0 ENDPOINT_URL   (e.g. http://127.0.0.1:8000)" >&2
    exit 2
fi
ENDPOINT="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ -z "${TABULA_AWS:-}" ]]; then
    eval "$("$HERE/tools.sh")"
fi
AWS_BIN="$TABULA_AWS"
[[ -x "$AWS_BIN" ]] || { echo "cli_smoke: aws CLI not found at $AWS_BIN" >&2; exit 1; }

# Dummy credentials; ignore any config of the user running this, and never
# touch the EC2 metadata service.
export AWS_ACCESS_KEY_ID=AKIDTEST
export AWS_SECRET_ACCESS_KEY=secret
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_CA_BUNDLE || true
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true
export AWS_MAX_ATTEMPTS=2
export AWS_RETRY_MODE=standard
export AWS_PAGER=""

TABLE="tabula-smoke-$(date +%s)-$$-$RANDOM"
PASSED=0
CURRENT=""
OUT=""
ERR_FILE="$(mktemp)"
TABLE_CREATED=0

cleanup() {
    local rc=$?
    if [[ $TABLE_CREATED -eq 1 ]]; then
        # best effort, quietly: don't leave the table behind after a failure
        timeout 30 "$AWS_BIN" dynamodb delete-table --endpoint-url "$ENDPOINT" \
            --table-name "$TABLE" >/dev/null 2>&1 || true
    fi
    rm -f "$ERR_FILE"
    exit $rc
}
trap cleanup EXIT

fail() {
    echo "cli_smoke: FAILED step '$CURRENT': $*" >&2
    if [[ -s "$ERR_FILE" ]]; then
        echo "--- aws stderr ---" >&2
        sed 's/^/    /' "$ERR_FILE" >&2
    fi
    echo "cli_smoke: $PASSED passed, 1 failed"
    exit 1
}

# aws ARGS...: run `aws dynamodb ARGS` against the endpoint; stdout -> $OUT.
aws_ddb() {
    OUT="$(timeout 120 "$AWS_BIN" dynamodb --endpoint-url "$ENDPOINT" \
        --cli-connect-timeout 10 --cli-read-timeout 60 "$@" 2>"$ERR_FILE")"
}
aws_streams() {
    OUT="$(timeout 120 "$AWS_BIN" dynamodbstreams --endpoint-url "$ENDPOINT" \
        --cli-connect-timeout 10 --cli-read-timeout 60 "$@" 2>"$ERR_FILE")"
}

STEP=""
step() { STEP="$1"; CURRENT="$1"; : >"$ERR_FILE"; }       # a new step
check() { CURRENT="$STEP: $1"; : >"$ERR_FILE"; }          # a further check in it
ok() { PASSED=$((PASSED + 1)); echo "ok - $STEP"; }
expect_eq() { # expect_eq WANT: compare $OUT (whitespace-normalised) with WANT
    local got
    got="$(printf '%s' "$OUT" | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')"
    [[ "$got" == "$1" ]] || fail "expected '$1', got '$got'"
}

# --- 1. create-table ---------------------------------------------------------
step "create-table"
aws_ddb create-table --table-name "$TABLE" \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=N \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST \
    --query 'TableDescription.[TableName, KeySchema[0].AttributeName, KeySchema[1].KeyType]' \
    --output text || fail "create-table exited non-zero"
TABLE_CREATED=1
expect_eq "$TABLE pk RANGE"
ok

# --- 2. wait table-exists ------------------------------------------------------
step "wait table-exists"
aws_ddb wait table-exists --table-name "$TABLE" || fail "table never became ACTIVE"
ok

# --- 3. put-item (x3) ----------------------------------------------------------
for i in 1 2 3; do
    step "put-item sk=$i"
    aws_ddb put-item --table-name "$TABLE" \
        --item "{\"pk\":{\"S\":\"user#1\"},\"sk\":{\"N\":\"$i\"},\"name\":{\"S\":\"item-$i\"},\"visits\":{\"N\":\"$((i * 10))\"},\"tags\":{\"SS\":[\"a\",\"b\"]}}" \
        --return-consumed-capacity TOTAL \
        --query 'ConsumedCapacity.TableName' --output text \
        || fail "put-item exited non-zero"
    expect_eq "$TABLE"
    ok
done

# --- 4. get-item ---------------------------------------------------------------
step "get-item"
aws_ddb get-item --table-name "$TABLE" --consistent-read \
    --key '{"pk":{"S":"user#1"},"sk":{"N":"2"}}' \
    --query '[Item.name.S, Item.visits.N, length(Item.tags.SS)]' --output text \
    || fail "get-item exited non-zero"
expect_eq "item-2 20 2"
ok

# --- 5. update-item ------------------------------------------------------------
step "update-item (UpdateExpression, ALL_NEW)"
aws_ddb update-item --table-name "$TABLE" \
    --key '{"pk":{"S":"user#1"},"sk":{"N":"2"}}' \
    --update-expression 'SET #n = :n, visits = visits + :inc ADD tags :t REMOVE gone' \
    --expression-attribute-names '{"#n":"name"}' \
    --expression-attribute-values '{":n":{"S":"renamed"},":inc":{"N":"5"},":t":{"SS":["c"]}}' \
    --return-values ALL_NEW \
    --query '[Attributes.name.S, Attributes.visits.N, length(Attributes.tags.SS)]' --output text \
    || fail "update-item exited non-zero"
expect_eq "renamed 25 3"
ok

# --- 6. query ------------------------------------------------------------------
step "query (key-condition-expression)"
aws_ddb query --table-name "$TABLE" \
    --key-condition-expression 'pk = :pk AND sk BETWEEN :lo AND :hi' \
    --expression-attribute-values '{":pk":{"S":"user#1"},":lo":{"N":"2"},":hi":{"N":"3"}}' \
    --no-scan-index-forward \
    --query '[Count, Items[0].sk.N, Items[1].sk.N]' --output text \
    || fail "query exited non-zero"
expect_eq "2 3 2"
ok

# --- 7. scan with a filter -----------------------------------------------------
step "scan (filter-expression)"
aws_ddb scan --table-name "$TABLE" \
    --filter-expression 'visits >= :v AND begins_with(#n, :p)' \
    --expression-attribute-names '{"#n":"name"}' \
    --expression-attribute-values '{":v":{"N":"20"},":p":{"S":"item-"}}' \
    --query '[Count, ScannedCount, Items[0].sk.N]' --output text \
    || fail "scan exited non-zero"
expect_eq "1 3 3"
ok

# --- 8. batch-write-item -------------------------------------------------------
step "batch-write-item"
aws_ddb batch-write-item --request-items "{\"$TABLE\":[
    {\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"user#2\"},\"sk\":{\"N\":\"1\"},\"name\":{\"S\":\"b1\"}}}},
    {\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"user#2\"},\"sk\":{\"N\":\"2\"},\"name\":{\"S\":\"b2\"}}}},
    {\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"user#2\"},\"sk\":{\"N\":\"3\"},\"name\":{\"S\":\"b3\"}}}},
    {\"DeleteRequest\":{\"Key\":{\"pk\":{\"S\":\"user#1\"},\"sk\":{\"N\":\"1\"}}}}]}" \
    --query 'length(UnprocessedItems)' --output text \
    || fail "batch-write-item exited non-zero"
expect_eq "0"
check "verify with scan"
aws_ddb scan --table-name "$TABLE" --select COUNT --consistent-read \
    --query 'Count' --output text || fail "scan exited non-zero"
expect_eq "5"
ok

# --- 9. delete-item ------------------------------------------------------------
step "delete-item (ALL_OLD)"
aws_ddb delete-item --table-name "$TABLE" \
    --key '{"pk":{"S":"user#2"},"sk":{"N":"2"}}' \
    --return-values ALL_OLD --query 'Attributes.name.S' --output text \
    || fail "delete-item exited non-zero"
expect_eq "b2"
check "verify with get-item"
aws_ddb get-item --table-name "$TABLE" --consistent-read \
    --key '{"pk":{"S":"user#2"},"sk":{"N":"2"}}' --output json \
    || fail "get-item exited non-zero"
[[ "$(printf '%s' "$OUT" | tr -d ' \n')" == "" || "$(printf '%s' "$OUT" | tr -d ' \n')" == "{}" ]] \
    || fail "item still there after delete-item: $OUT"
ok

# --- 10. conditional put must fail ---------------------------------------------
step "put-item with failing condition"
set +e
aws_ddb put-item --table-name "$TABLE" \
    --item '{"pk":{"S":"user#1"},"sk":{"N":"3"},"name":{"S":"clobbered"}}' \
    --condition-expression 'attribute_not_exists(pk)'
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "conditional put succeeded but the item exists (exit 0)"
[[ $rc -eq 254 || $rc -eq 255 ]] || fail "expected the CLI's service-error exit code (254/255), got $rc"
grep -q 'ConditionalCheckFailedException' "$ERR_FILE" \
    || fail "error text lacks ConditionalCheckFailedException"
check "item unchanged"
aws_ddb get-item --table-name "$TABLE" --consistent-read \
    --key '{"pk":{"S":"user#1"},"sk":{"N":"3"}}' --query 'Item.name.S' --output text \
    || fail "get-item exited non-zero"
expect_eq "item-3"
ok

# --- 11. describe-table --------------------------------------------------------
step "describe-table"
aws_ddb describe-table --table-name "$TABLE" \
    --query 'Table.[TableName, TableStatus, KeySchema[0].AttributeName, KeySchema[1].AttributeName, length(AttributeDefinitions)]' \
    --output text || fail "describe-table exited non-zero"
expect_eq "$TABLE ACTIVE pk sk 2"
ok

# --- 11b. transactions and streams --------------------------------------------
step "update-table enables a stream"
aws_ddb update-table --table-name "$TABLE" \
    --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES \
    --query 'TableDescription.StreamSpecification.StreamViewType' --output text \
    || fail "update-table exited non-zero"
expect_eq "NEW_AND_OLD_IMAGES"
ok

step "transact-write-items"
aws_ddb transact-write-items --transact-items "[
  {\"Put\": {\"TableName\": \"$TABLE\", \"Item\": {\"pk\": {\"S\": \"t1\"}, \"sk\": {\"N\": \"1\"}}}},
  {\"Put\": {\"TableName\": \"$TABLE\", \"Item\": {\"pk\": {\"S\": \"t2\"}, \"sk\": {\"N\": \"1\"}},
           \"ConditionExpression\": \"attribute_not_exists(pk)\"}}]" \
    || fail "transact-write-items exited non-zero"
check "a failed condition cancels it"
set +e
aws_ddb transact-write-items --transact-items "[
  {\"Put\": {\"TableName\": \"$TABLE\", \"Item\": {\"pk\": {\"S\": \"t3\"}, \"sk\": {\"N\": \"1\"}}}},
  {\"Put\": {\"TableName\": \"$TABLE\", \"Item\": {\"pk\": {\"S\": \"t2\"}, \"sk\": {\"N\": \"1\"}},
           \"ConditionExpression\": \"attribute_not_exists(pk)\"}}]"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "the cancelled transaction succeeded"
grep -q 'TransactionCanceledException' "$ERR_FILE" || fail "error text lacks TransactionCanceledException"
check "transact-get-items"
aws_ddb transact-get-items --transact-items "[
  {\"Get\": {\"TableName\": \"$TABLE\", \"Key\": {\"pk\": {\"S\": \"t1\"}, \"sk\": {\"N\": \"1\"}}}},
  {\"Get\": {\"TableName\": \"$TABLE\", \"Key\": {\"pk\": {\"S\": \"t3\"}, \"sk\": {\"N\": \"1\"}}}}]" \
    --query 'length(Responses[?Item])' --output text || fail "transact-get-items exited non-zero"
expect_eq "1"
ok

step "dynamodbstreams get-records"
aws_streams list-streams --table-name "$TABLE" --query 'Streams[0].StreamArn' --output text \
    || fail "list-streams exited non-zero"
STREAM_ARN="$OUT"
[[ "$STREAM_ARN" == arn:aws:dynamodb:* ]] || fail "no stream listed (got '$STREAM_ARN')"
check "describe-stream"
aws_streams describe-stream --stream-arn "$STREAM_ARN" \
    --query 'StreamDescription.Shards[0].ShardId' --output text || fail "describe-stream exited non-zero"
SHARD="$OUT"
check "get-shard-iterator"
aws_streams get-shard-iterator --stream-arn "$STREAM_ARN" --shard-id "$SHARD" \
    --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text \
    || fail "get-shard-iterator exited non-zero"
check "get-records"
aws_streams get-records --shard-iterator "$OUT" \
    --query 'Records[].[eventName, dynamodb.Keys.pk.S]' --output text || fail "get-records exited non-zero"
expect_eq "INSERT t1 INSERT t2"
ok

# --- 12. list-tables -----------------------------------------------------------
step "list-tables"
aws_ddb list-tables --query "contains(TableNames, '$TABLE')" --output text \
    || fail "list-tables exited non-zero"
expect_eq "True"
ok

# --- 13. delete-table ----------------------------------------------------------
step "delete-table"
aws_ddb delete-table --table-name "$TABLE" \
    --query 'TableDescription.TableName' --output text || fail "delete-table exited non-zero"
expect_eq "$TABLE"
aws_ddb wait table-not-exists --table-name "$TABLE" || fail "table still exists after delete-table"
TABLE_CREATED=0
check "describe-table now fails"
set +e
aws_ddb describe-table --table-name "$TABLE"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "describe-table of a deleted table succeeded"
grep -q 'ResourceNotFoundException' "$ERR_FILE" || fail "error text lacks ResourceNotFoundException"
ok

echo "cli_smoke: $PASSED passed, 0 failed"
