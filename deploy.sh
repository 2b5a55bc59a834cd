#!/usr/bin/env bash
# Deploy the Dialogflow CX webhook to Cloud Functions (gen2) and let Dialogflow's service
# agent invoke it. `./deploy.sh --help` documents every flag; docs/deploy.md walks through a
# first deployment. Written for bash 3.2+ (macOS ships 3.2), so no associative arrays.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly DEFAULT_FUNCTION_NAME="cx-webhook"
# One warm instance keeps cold starts (several seconds for Python) out of Dialogflow's 5 s
# webhook budget.
readonly DEFAULT_MIN_INSTANCES=1
readonly DEFAULT_MAX_INSTANCES=20
# Requests per instance. Gen2 allows up to 1000; Google suggests starting Python at 8 (an
# older page said the Python runtime serves at most 8), with THREADS to match (docs/CONTRACT.md §9).
readonly DEFAULT_CONCURRENCY=8
readonly DEFAULT_AUTH_MODES="id-token"
readonly KNOWN_AUTH_MODES=" id-token basic header none "
# Names that end like this hold secrets: they must arrive through --set-secrets (Secret
# Manager), never in the plain env-vars file, which anyone with viewer access can read.
readonly SECRET_NAME_RE='_(PASSWORD|KEY|VALUE|TOKEN|SECRET)$'
# Cloud Run and Cloud Functions set these themselves (and names starting X_GOOGLE_, refused
# below): a deployment that sets them fails, or breaks the function.
readonly RESERVED_ENV_NAMES=" PORT K_SERVICE K_REVISION K_CONFIGURATION FUNCTION_TARGET FUNCTION_SIGNATURE_TYPE "

usage() {
  cat <<'EOF'
Usage: ./deploy.sh [options]

Deploy the webhook as a private Cloud Functions (gen2) HTTP function, let Dialogflow's
service agent invoke it, and print its URL. Re-running updates the function in place.

Where settings come from (later wins): built-in defaults, the env file, flags.

Options:
  --env-file FILE          NAME=VALUE file (default: deploy.env next to this script, if it
                           exists). DEPLOY_* names configure this script; every other name is
                           a runtime variable of the service. See deploy.env.example.
  --project ID             Google Cloud project (env file / environment: GOOGLE_CLOUD_PROJECT).
  --region REGION          Region, e.g. us-central1 (env file: DEPLOY_REGION).
  --name NAME              Function name (DEPLOY_FUNCTION_NAME, default cx-webhook).
  --project-number N       Project number; looked up with `gcloud projects describe` when
                           not given (DEPLOY_PROJECT_NUMBER).
  --min-instances N        Warm instances (DEPLOY_MIN_INSTANCES, default 1).
  --max-instances N        Instance cap (DEPLOY_MAX_INSTANCES, default 20).
  --concurrency N          Requests per instance (DEPLOY_CONCURRENCY, default 8); THREADS is
                           set to the same number so functions-framework runs that many threads.
  --service-account EMAIL  Runtime service account (DEPLOY_SERVICE_ACCOUNT); it needs
                           roles/secretmanager.secretAccessor on the secrets below.
  --secret ENV=SECRET:VERSION
                           Expose a Secret Manager secret as env var ENV (repeatable;
                           DEPLOY_SECRETS holds a comma-separated list). Required for
                           AUTH_BASIC_PASSWORD, AUTH_HEADER_VALUE and BACKEND_<NAME>_KEY.
  --env NAME=VALUE         Set a runtime variable (repeatable), e.g. --env LOG_LEVEL=DEBUG.
  --demo                   Allow deploying without any BACKEND_<NAME>_URL: the embedded demo
                           store answers. Without --demo, DEMO_STORE=off is always set.
  --force-open             Allow AUTH_MODES to contain `none` (the service then accepts
                           requests without credentials).
  --dry-run                Print every gcloud command instead of running any (not even
                           read-only ones); the env-vars file is printed to stderr.
  -h, --help               Show this help.

Runtime variables (env file or --env): WEBHOOK_TIMEOUT_S, AUTH_MODES (default id-token),
AUTH_AUDIENCES, AUTH_PROJECT_NUMBER, AUTH_ALLOWED_EMAILS, AUTH_BASIC_USERNAME,
AUTH_HEADER_NAME, BACKEND_<NAME>_URL, BACKEND_<NAME>_AUTH, BACKEND_<NAME>_KEY_HEADER,
DEMO_STORE, LOG_LEVEL, LOG_FORMAT, ... Names ending in _PASSWORD, _KEY, _VALUE, _TOKEN or
_SECRET are refused here: pass them with --secret.

When AUTH_MODES includes id-token and AUTH_AUDIENCES is unset, the audiences default to the
two URLs the function answers on that can be known before it exists:
  https://REGION-PROJECT.cloudfunctions.net/NAME and https://NAME-PROJECT_NUMBER.REGION.run.app
Register one of them as the webhook URI. AUTH_PROJECT_NUMBER defaults to the project number.

Before deploying (and in a dry run) the service's own start-up checks run locally on these
settings (python -m tools.preflight; PYTHON picks the interpreter, default python3 3.11+):
what the service would refuse, or log as an ERROR, stops the deploy.

Exit status: 0 deployed (or dry run printed), 2 missing or unsafe configuration,
1 a gcloud command failed.

Example:
  ./deploy.sh --project my-project --region us-central1 --dry-run
EOF
}

die_config() {
  printf 'deploy.sh: %s\n' "$1" >&2
  shift
  local hint
  for hint in "$@"; do printf '  %s\n' "$hint" >&2; done
  exit 2
}

note() { printf 'note: %s\n' "$*" >&2; }

# Quote one word for a POSIX shell, like Python's shlex.quote, so dry-run lines can be pasted.
shell_quote() {
  local word=$1
  if [[ -n $word && $word =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$word"
  else
    printf "'%s'" "${word//\'/\'\"\'\"\'}"
  fi
}

shell_join() {
  local out="" word
  for word in "$@"; do out+="${out:+ }$(shell_quote "$word")"; done
  printf '%s\n' "$out"
}

# --- runtime variables: two parallel arrays keep insertion order without bash 4 ---------
ENV_NAMES=()
ENV_VALUES=()

env_index() {
  local i
  for ((i = 0; i < ${#ENV_NAMES[@]}; i++)); do
    if [[ ${ENV_NAMES[i]} == "$1" ]]; then
      printf '%s' "$i"
      return 0
    fi
  done
  return 1
}

set_env() {
  local i
  if i=$(env_index "$1"); then ENV_VALUES[i]=$2; else
    ENV_NAMES+=("$1")
    ENV_VALUES+=("$2")
  fi
}

get_env() {
  local i
  i=$(env_index "$1") || return 1
  printf '%s' "${ENV_VALUES[i]}"
}

# --- secrets: ENV=SECRET:VERSION references, never values ------------------------------
SECRET_REFS=()

add_secret() {
  local ref=$1 name existing
  # Not echoed whole: a value pasted where the reference belongs would land in CI logs.
  [[ $ref =~ ^([A-Za-z_][A-Za-z0-9_]*)=([^=:[:space:]]+):([0-9]+|latest)$ ]] ||
    die_config "secret reference for '${ref%%=*}' is not ENV=SECRET:VERSION (value not shown)" \
      "example: --secret AUTH_HEADER_VALUE=cx-webhook-header:1 (VERSION: a number, or latest)"
  name=${BASH_REMATCH[1]}
  for existing in ${SECRET_REFS[@]+"${SECRET_REFS[@]}"}; do
    [[ ${existing%%=*} != "$name" ]] || die_config "secret $name is given twice ('$existing' and '$ref')"
  done
  SECRET_REFS+=("$ref")
}

has_secret() {
  local ref
  for ref in ${SECRET_REFS[@]+"${SECRET_REFS[@]}"}; do
    [[ ${ref%%=*} != "$1" ]] || return 0
  done
  return 1
}

# --- env file ---------------------------------------------------------------------------
FILE_REGION="" FILE_NAME="" FILE_PROJECT="" FILE_PROJECT_NUMBER=""
FILE_MIN_INSTANCES="" FILE_MAX_INSTANCES="" FILE_CONCURRENCY="" FILE_SERVICE_ACCOUNT=""

# A value as dotenv files write it: "double" or 'single' quoted (the quotes go) or bare,
# either followed by blanks and a # comment. Fails for a quote that is not closed, or text
# after the closing quote: kept, the quotes would reach the service as part of the value.
unquote_value() {
  local value=$1
  local double_quoted='^"(.*)"([[:space:]]+#.*)?$' single_quoted="^'(.*)'([[:space:]]+#.*)?\$"
  value=${value%"${value##*[![:space:]]}"} # trailing blanks
  if [[ $value =~ $double_quoted || $value =~ $single_quoted ]]; then
    value=${BASH_REMATCH[1]}
  elif [[ $value == [\"\']* ]]; then
    return 1
  else
    # Unquoted: drop a trailing " # comment" and surrounding blanks, like dotenv files do.
    value=$(printf '%s' "$value" | sed -e 's/[[:space:]][[:space:]]*#.*$//' -e 's/[[:space:]]*$//')
  fi
  printf '%s' "$value"
}

# The file is parsed, not sourced: it must not be able to run commands on the deployer's
# machine, and a stray `$` in a value must stay a `$`.
load_env_file() {
  local file=$1 line name value lineno=0 ref refs
  while IFS= read -r line || [[ -n $line ]]; do
    lineno=$((lineno + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
      die_config "$file:$lineno: expected NAME=VALUE (the line is not shown: it may hold a secret)"
    name=${BASH_REMATCH[2]}
    value=$(unquote_value "${BASH_REMATCH[3]}") ||
      die_config "$file:$lineno: $name: text after the closing quote, or a quote never closed" \
        "write NAME=\"value\" or NAME='value', then optionally blanks and a # comment"
    case $name in
      DEPLOY_REGION) FILE_REGION=$value ;;
      DEPLOY_FUNCTION_NAME) FILE_NAME=$value ;;
      DEPLOY_PROJECT_NUMBER) FILE_PROJECT_NUMBER=$value ;;
      DEPLOY_MIN_INSTANCES) FILE_MIN_INSTANCES=$value ;;
      DEPLOY_MAX_INSTANCES) FILE_MAX_INSTANCES=$value ;;
      DEPLOY_CONCURRENCY) FILE_CONCURRENCY=$value ;;
      DEPLOY_SERVICE_ACCOUNT) FILE_SERVICE_ACCOUNT=$value ;;
      DEPLOY_SECRETS)
        IFS=', ' read -r -a refs <<<"$value"
        for ref in ${refs[@]+"${refs[@]}"}; do add_secret "$ref"; done
        ;;
      DEPLOY_*)
        die_config "$file:$lineno: unknown setting $name" \
          "known: DEPLOY_REGION DEPLOY_FUNCTION_NAME DEPLOY_PROJECT_NUMBER DEPLOY_MIN_INSTANCES" \
          "       DEPLOY_MAX_INSTANCES DEPLOY_CONCURRENCY DEPLOY_SERVICE_ACCOUNT DEPLOY_SECRETS"
        ;;
      GOOGLE_CLOUD_PROJECT)
        FILE_PROJECT=$value
        set_env "$name" "$value"
        ;;
      *) set_env "$name" "$value" ;;
    esac
  done <"$file"
}

# --- flags ------------------------------------------------------------------------------
OPT_ENV_FILE="" OPT_PROJECT="" OPT_REGION="" OPT_NAME="" OPT_PROJECT_NUMBER=""
OPT_MIN_INSTANCES="" OPT_MAX_INSTANCES="" OPT_CONCURRENCY="" OPT_SERVICE_ACCOUNT=""
OPT_DEMO=0 OPT_FORCE_OPEN=0 OPT_DRY_RUN=0
FLAG_SECRETS=()
FLAG_ENVS=()

need_value() {
  [[ $# -ge 2 && -n $2 ]] || die_config "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
  arg=$1
  if [[ $arg == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case $arg in
    -h | --help)
      usage
      exit 0
      ;;
    --env-file) need_value "$@"; OPT_ENV_FILE=$2; shift 2 ;;
    --project) need_value "$@"; OPT_PROJECT=$2; shift 2 ;;
    --region) need_value "$@"; OPT_REGION=$2; shift 2 ;;
    --name) need_value "$@"; OPT_NAME=$2; shift 2 ;;
    --project-number) need_value "$@"; OPT_PROJECT_NUMBER=$2; shift 2 ;;
    --min-instances) need_value "$@"; OPT_MIN_INSTANCES=$2; shift 2 ;;
    --max-instances) need_value "$@"; OPT_MAX_INSTANCES=$2; shift 2 ;;
    --concurrency) need_value "$@"; OPT_CONCURRENCY=$2; shift 2 ;;
    --service-account) need_value "$@"; OPT_SERVICE_ACCOUNT=$2; shift 2 ;;
    --secret) need_value "$@"; FLAG_SECRETS+=("$2"); shift 2 ;;
    --env) need_value "$@"; FLAG_ENVS+=("$2"); shift 2 ;;
    --demo) OPT_DEMO=1; shift ;;
    --force-open) OPT_FORCE_OPEN=1; shift ;;
    --dry-run) OPT_DRY_RUN=1; shift ;;
    *) die_config "unknown argument: $arg (see --help)" ;;
  esac
done

# Relative --env-file paths mean the caller's directory; everything else happens in the
# checkout, because `--source=.` uploads the current directory.
if [[ -n $OPT_ENV_FILE ]]; then
  [[ -r $OPT_ENV_FILE && ! -d $OPT_ENV_FILE ]] || die_config "env file not found: $OPT_ENV_FILE" \
    "create it from the template: cp deploy.env.example deploy.env"
  ENV_FILE=$(cd "$(dirname "$OPT_ENV_FILE")" && pwd)/$(basename "$OPT_ENV_FILE")
elif [[ -f $SCRIPT_DIR/deploy.env ]]; then
  ENV_FILE=$SCRIPT_DIR/deploy.env
else
  ENV_FILE=""
fi
cd "$SCRIPT_DIR"

[[ -z $ENV_FILE ]] || load_env_file "$ENV_FILE"
for ref in ${FLAG_SECRETS[@]+"${FLAG_SECRETS[@]}"}; do add_secret "$ref"; done
for pair in ${FLAG_ENVS[@]+"${FLAG_ENVS[@]}"}; do
  [[ $pair =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die_config "--env '${pair%%=*}=...' is not NAME=VALUE"
  set_env "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
done

PROJECT=${OPT_PROJECT:-${FILE_PROJECT:-${GOOGLE_CLOUD_PROJECT:-}}}
REGION=${OPT_REGION:-$FILE_REGION}
FUNCTION_NAME=${OPT_NAME:-${FILE_NAME:-$DEFAULT_FUNCTION_NAME}}
PROJECT_NUMBER=${OPT_PROJECT_NUMBER:-$FILE_PROJECT_NUMBER}
MIN_INSTANCES=${OPT_MIN_INSTANCES:-${FILE_MIN_INSTANCES:-$DEFAULT_MIN_INSTANCES}}
MAX_INSTANCES=${OPT_MAX_INSTANCES:-${FILE_MAX_INSTANCES:-$DEFAULT_MAX_INSTANCES}}
CONCURRENCY=${OPT_CONCURRENCY:-${FILE_CONCURRENCY:-$DEFAULT_CONCURRENCY}}
SERVICE_ACCOUNT=${OPT_SERVICE_ACCOUNT:-$FILE_SERVICE_ACCOUNT}

# --- checks that need no network, cheapest first ----------------------------------------
if [[ $OPT_DRY_RUN -eq 0 ]] && ! command -v gcloud >/dev/null 2>&1; then
  die_config "gcloud is not on PATH" \
    "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), then run" \
    "gcloud auth login; --dry-run works without it"
fi
[[ -n $PROJECT ]] || die_config "no project given" \
  "pass --project PROJECT_ID, or set GOOGLE_CLOUD_PROJECT in deploy.env or the environment"
[[ -n $REGION ]] || die_config "no region given" \
  "pass --region REGION (e.g. us-central1), or set DEPLOY_REGION in deploy.env"
[[ $PROJECT =~ ^[a-z][-a-z0-9:.]{4,62}[a-z0-9]$ ]] || die_config "'$PROJECT' is not a project ID"
[[ $REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die_config "'$REGION' is not a region (e.g. us-central1)"
# Gen2 functions are Cloud Run services: lowercase letters, digits and hyphens.
[[ $FUNCTION_NAME =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
  die_config "function name '$FUNCTION_NAME' must be lowercase letters, digits and hyphens"
for pair in "min-instances:$MIN_INSTANCES" "max-instances:$MAX_INSTANCES" "concurrency:$CONCURRENCY"; do
  [[ ${pair#*:} =~ ^[0-9]+$ ]] || die_config "--${pair%%:*} must be a whole number, got '${pair#*:}'"
done
((MAX_INSTANCES >= 1 && MIN_INSTANCES <= MAX_INSTANCES)) ||
  die_config "need 1 <= max-instances and min-instances <= max-instances (got $MIN_INSTANCES..$MAX_INSTANCES)"
((CONCURRENCY >= 1 && CONCURRENCY <= 1000)) || die_config "concurrency must be 1..1000, got $CONCURRENCY"
[[ -z $PROJECT_NUMBER || $PROJECT_NUMBER =~ ^[0-9]+$ ]] ||
  die_config "project number must be digits, got '$PROJECT_NUMBER'"
agent_project_number=$(get_env AUTH_PROJECT_NUMBER || true)
[[ -z $agent_project_number || $agent_project_number =~ ^[0-9]+$ ]] ||
  die_config "AUTH_PROJECT_NUMBER must be the Dialogflow agent project's number (digits), got '$agent_project_number'"

for i in ${ENV_NAMES[@]+"${!ENV_NAMES[@]}"}; do
  name=${ENV_NAMES[i]}
  if [[ $name =~ $SECRET_NAME_RE ]]; then
    die_config "$name looks like a secret and must not be a plain environment variable" \
      "store it in Secret Manager (docs/deploy.md, step 2: the value is read, never typed into" \
      "a command line): gcloud secrets create SECRET --data-file=FILE" \
      "then pass it by reference:   --secret $name=SECRET:1   (or DEPLOY_SECRETS in deploy.env)"
  fi
  [[ $RESERVED_ENV_NAMES != *" $name "* && $name != X_GOOGLE_* ]] ||
    die_config "$name is reserved by Cloud Functions / Cloud Run (they set it themselves); remove it"
  ! has_secret "$name" || die_config "$name is both a plain variable and a secret; keep only --secret"
done

AUTH_MODES=$(get_env AUTH_MODES || true)
# No spaces, no empty items: "id-token, header" and ",," read as the service reads them.
AUTH_MODES=$(tr -d ' ' <<<"$AUTH_MODES" | tr -s ',')
AUTH_MODES=${AUTH_MODES#,}
AUTH_MODES=${AUTH_MODES%,}
if [[ -z $AUTH_MODES ]]; then
  AUTH_MODES=$DEFAULT_AUTH_MODES
  note "AUTH_MODES not set; using $AUTH_MODES (Dialogflow's service agent ID token)"
fi
set_env AUTH_MODES "$AUTH_MODES"
has_mode() { [[ ",$AUTH_MODES," == *",$1,"* ]]; }
for mode in ${AUTH_MODES//,/ }; do
  [[ $KNOWN_AUTH_MODES == *" $mode "* ]] ||
    die_config "unknown auth mode '$mode' in AUTH_MODES" "choose from: id-token, basic, header, none"
done
if has_mode none && [[ $AUTH_MODES != none ]]; then
  die_config "AUTH_MODES=$AUTH_MODES: 'none' turns authentication off and cannot be combined"
fi
if ! has_mode none && ! has_mode id-token; then
  # --no-allow-unauthenticated: the platform lets only requests with an invoker's Google ID
  # token through, so Dialogflow must send it, and the service should check it.
  die_config "AUTH_MODES=$AUTH_MODES: the function is private, so id-token must be among the modes" \
    "use AUTH_MODES=id-token, or id-token,header for a header token on top"
fi
if has_mode none && [[ $OPT_FORCE_OPEN -eq 0 ]]; then
  die_config "AUTH_MODES includes 'none': the service would accept requests from anyone" \
    "use AUTH_MODES=id-token (recommended), or pass --force-open if that is really intended"
fi
if has_mode basic; then
  [[ -n $(get_env AUTH_BASIC_USERNAME || true) ]] ||
    die_config "AUTH_MODES includes basic but AUTH_BASIC_USERNAME is not set" \
      "set AUTH_BASIC_USERNAME=... in deploy.env"
  has_secret AUTH_BASIC_PASSWORD ||
    die_config "AUTH_MODES includes basic but AUTH_BASIC_PASSWORD is not given as a secret" \
      "pass --secret AUTH_BASIC_PASSWORD=SECRET:VERSION"
  # The function is private: the platform only lets requests with a Google ID token through,
  # and basic credentials would have to travel in the same Authorization header.
  note "basic auth cannot pass --no-allow-unauthenticated; Dialogflow must send its ID token (id-token)"
fi
if has_mode header; then
  [[ -n $(get_env AUTH_HEADER_NAME || true) ]] ||
    die_config "AUTH_MODES includes header but AUTH_HEADER_NAME is not set" \
      "set AUTH_HEADER_NAME=X-Webhook-Key (for example) in deploy.env"
  has_secret AUTH_HEADER_VALUE ||
    die_config "AUTH_MODES includes header but AUTH_HEADER_VALUE is not given as a secret" \
      "pass --secret AUTH_HEADER_VALUE=SECRET:VERSION"
fi

backend_count=0
for i in ${ENV_NAMES[@]+"${!ENV_NAMES[@]}"}; do
  if [[ ${ENV_NAMES[i]} =~ ^BACKEND_[A-Z0-9_]+_URL$ && -n ${ENV_VALUES[i]} ]]; then
    backend_count=$((backend_count + 1))
  fi
done
if [[ $OPT_DEMO -eq 1 ]]; then
  [[ $backend_count -gt 0 ]] || note "--demo: no BACKEND_<NAME>_URL; the embedded demo store answers"
  if [[ $(get_env DEMO_STORE || true) == off ]]; then
    # deploy.env.example says DEMO_STORE=off; --demo is the later, explicit word.
    note "DEMO_STORE=off in the settings overridden to on by --demo"
    set_env DEMO_STORE on
  fi
else
  [[ $backend_count -gt 0 ]] || die_config "no backend configured (no BACKEND_<NAME>_URL)" \
    "set BACKEND_<NAME>_URL=https://... in deploy.env for each backend the handlers call," \
    "or pass --demo to deploy with the embedded demo data store"
  if [[ $(get_env DEMO_STORE || true) != off && -n $(get_env DEMO_STORE || true) ]]; then
    note "DEMO_STORE=$(get_env DEMO_STORE) overridden to off (pass --demo to keep demo data)"
  fi
  # Production must never answer from demo data, whatever the env file says.
  set_env DEMO_STORE off
fi

old_threads=$(get_env THREADS || true)
[[ -z $old_threads || $old_threads == "$CONCURRENCY" ]] ||
  note "THREADS=$old_threads overridden to $CONCURRENCY to match --concurrency"
set_env THREADS "$CONCURRENCY"
set_env GOOGLE_CLOUD_PROJECT "$PROJECT"

# --- commands ---------------------------------------------------------------------------
run_gcloud() {
  if [[ $OPT_DRY_RUN -eq 1 ]]; then
    shell_join gcloud "$@"
    return 0
  fi
  printf '+ %s\n' "$(shell_join gcloud "$@")" >&2
  local status=0
  gcloud "$@" || status=$?
  if [[ $status -ne 0 ]]; then
    printf 'deploy.sh: gcloud failed (exit %s): %s\n' "$status" "$(shell_join gcloud "$@")" >&2
    exit 1
  fi
}

if [[ -z $PROJECT_NUMBER ]]; then
  describe_project=(projects describe "$PROJECT" "--format=value(projectNumber)")
  if [[ $OPT_DRY_RUN -eq 1 ]]; then
    shell_join gcloud "${describe_project[@]}"
    PROJECT_NUMBER="<PROJECT_NUMBER from gcloud projects describe>"
  else
    printf '+ %s\n' "$(shell_join gcloud "${describe_project[@]}")" >&2
    PROJECT_NUMBER=$(gcloud "${describe_project[@]}") || PROJECT_NUMBER=""
    PROJECT_NUMBER=${PROJECT_NUMBER//[[:space:]]/}
    [[ $PROJECT_NUMBER =~ ^[0-9]+$ ]] ||
      die_config "could not look up the project number of $PROJECT (got '${PROJECT_NUMBER}')" \
        "check gcloud auth login and the project ID, or pass --project-number N" \
        "(shown in the console dashboard, or: gcloud projects describe $PROJECT)"
  fi
fi

if has_mode id-token; then
  audience_any=$(get_env AUTH_AUDIENCE_ANY || true)
  # The service's own reading of a true flag (fulfillment/auth.py): any case, blanks ignored.
  audience_any=$(tr -d '[:space:]' <<<"$audience_any" | tr '[:upper:]' '[:lower:]')
  if [[ -z $(get_env AUTH_AUDIENCES || true) && ! $audience_any =~ ^(true|1|yes|on)$ ]]; then
    # Dialogflow mints the ID token for the URI the webhook resource points at. Both URLs
    # below are known before the first deployment, so one deploy suffices; the older
    # random-hash *.a.run.app URL cannot be predicted and is deliberately not accepted.
    set_env AUTH_AUDIENCES "https://$REGION-$PROJECT.cloudfunctions.net/$FUNCTION_NAME,https://$FUNCTION_NAME-$PROJECT_NUMBER.$REGION.run.app"
  fi
  [[ -n $(get_env AUTH_PROJECT_NUMBER || true) ]] || set_env AUTH_PROJECT_NUMBER "$PROJECT_NUMBER"
fi
# The project that holds the Dialogflow agent: its service agent calls, and may be another
# project's than the function's.
AGENT_PROJECT_NUMBER=${agent_project_number:-$PROJECT_NUMBER}
if [[ $AGENT_PROJECT_NUMBER != "$PROJECT_NUMBER" ]]; then
  note "the Dialogflow agent's project is number $AGENT_PROJECT_NUMBER (AUTH_PROJECT_NUMBER): its service agent gets the invoker role"
fi
if has_mode id-token; then
  allowed_emails=$(get_env AUTH_ALLOWED_EMAILS || true)
  # The service checks AUTH_ALLOWED_EMAILS instead of (not on top of) the service agent.
  if [[ -n $allowed_emails && $AGENT_PROJECT_NUMBER =~ ^[0-9]+$ &&
    ",${allowed_emails// /}," != *",service-$AGENT_PROJECT_NUMBER@gcp-sa-dialogflow.iam.gserviceaccount.com,"* ]]; then
    note "AUTH_ALLOWED_EMAILS replaces the default and lacks service-$AGENT_PROJECT_NUMBER@gcp-sa-dialogflow.iam.gserviceaccount.com: the service will refuse Dialogflow's calls"
  fi
fi

# --- the service's own start-up checks, on exactly these settings ------------------------
# What the service would refuse at start (or log as an ERROR: a backend it cannot call) stops
# the deploy here, in a second and in the service's own words, rather than after a build as a
# revision that does not start. Needs only the standard library. Secrets are placeholders:
# their values stay in Secret Manager.
run_preflight() {
  local python=${PYTHON:-python3} i name value ref status=0
  if ! command -v "$python" >/dev/null 2>&1; then
    note "$python not found: the service's own configuration checks were skipped"
    return 0
  fi
  local preflight_env=("PATH=$PATH" "K_SERVICE=$FUNCTION_NAME" "PYTHONDONTWRITEBYTECODE=1")
  for i in ${ENV_NAMES[@]+"${!ENV_NAMES[@]}"}; do
    name=${ENV_NAMES[i]}
    value=${ENV_VALUES[i]}
    [[ -n $value ]] || continue # empty means "not set", as in the env-vars file
    if [[ $name == AUTH_PROJECT_NUMBER && $value == "$PROJECT_NUMBER" && ! $value =~ ^[0-9]+$ ]]; then
      value=0 # a dry run does not look the number up
    fi
    preflight_env+=("$name=$value")
  done
  for ref in ${SECRET_REFS[@]+"${SECRET_REFS[@]}"}; do
    preflight_env+=("${ref%%=*}=placeholder-for-a-secret")
  done
  env -i "${preflight_env[@]}" "$python" -m tools.preflight || status=$?
  case $status in
    0) ;;
    2) die_config "the service would refuse these settings (see above); nothing was deployed" ;;
    *) note "the service's own configuration checks could not run here (exit $status); going on" ;;
  esac
}
run_preflight

yaml_quote() {
  local value=$1
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  value=${value//$'\n'/\\n}
  value=${value//$'\t'/\\t}
  printf '"%s"' "$value"
}

render_env_yaml() {
  local name i
  printf '# Runtime variables for %s, written by deploy.sh. Secrets are not here.\n' "$FUNCTION_NAME"
  while IFS= read -r name; do
    i=$(env_index "$name")
    # An empty value in deploy.env means "not set": leave the service's default alone.
    [[ -n ${ENV_VALUES[i]} ]] || continue
    printf '%s: %s\n' "$name" "$(yaml_quote "${ENV_VALUES[i]}")"
  done < <(printf '%s\n' "${ENV_NAMES[@]}" | LC_ALL=C sort)
}

if [[ $OPT_DRY_RUN -eq 1 ]]; then
  ENV_VARS_FILE="<env-vars.yaml>"
  {
    printf '# --env-vars-file content:\n'
    render_env_yaml | sed 's/^/#   /'
  } >&2
else
  ENV_VARS_FILE=$(mktemp "${TMPDIR:-/tmp}/cx-webhook-env.XXXXXX")
  trap 'rm -f "$ENV_VARS_FILE"' EXIT
  render_env_yaml >"$ENV_VARS_FILE"
fi

deploy_args=(
  functions deploy "$FUNCTION_NAME"
  --gen2
  --runtime=python312
  "--region=$REGION"
  "--project=$PROJECT"
  --source=.
  --entry-point=webhook
  --trigger-http
  --no-allow-unauthenticated
  "--env-vars-file=$ENV_VARS_FILE"
)
if [[ ${#SECRET_REFS[@]} -gt 0 ]]; then
  secrets_csv=$(IFS=,; printf '%s' "${SECRET_REFS[*]}")
  deploy_args+=("--set-secrets=$secrets_csv")
else
  # --set-secrets replaces the whole set; with none, clear any left from an earlier deploy
  # so the function always matches this configuration.
  deploy_args+=(--clear-secrets)
fi
deploy_args+=(
  "--min-instances=$MIN_INSTANCES"
  "--max-instances=$MAX_INSTANCES"
  "--concurrency=$CONCURRENCY"
  --cpu=1
  --memory=512Mi
  --timeout=60s
)
if [[ -n $SERVICE_ACCOUNT ]]; then
  deploy_args+=("--service-account=$SERVICE_ACCOUNT")
else
  note "no --service-account: the function runs as the Compute Engine default service account," \
    "which often holds the project's Editor role; create one of its own (docs/deploy.md, step 0)"
fi

# The platform lets through only callers with the invoker role: the service agent of the
# project that holds the Dialogflow agent, which may not be the function's own.
DIALOGFLOW_AGENT="service-$AGENT_PROJECT_NUMBER@gcp-sa-dialogflow.iam.gserviceaccount.com"

run_gcloud "${deploy_args[@]}"
# Adding a binding that exists already is a no-op, so re-runs are safe.
run_gcloud functions add-invoker-policy-binding "$FUNCTION_NAME" "--region=$REGION" \
  "--project=$PROJECT" "--member=serviceAccount:$DIALOGFLOW_AGENT"

describe_function=(functions describe "$FUNCTION_NAME" "--region=$REGION" "--project=$PROJECT"
  "--format=value(serviceConfig.uri)")
if [[ $OPT_DRY_RUN -eq 1 ]]; then
  shell_join gcloud "${describe_function[@]}"
  exit 0
fi
printf '+ %s\n' "$(shell_join gcloud "${describe_function[@]}")" >&2
FUNCTION_URL=$(gcloud "${describe_function[@]}") || {
  printf 'deploy.sh: deployed, but could not read the URL: gcloud functions describe failed\n' >&2
  exit 1
}
FUNCTION_URL=${FUNCTION_URL//[[:space:]]/}

printf 'Function URL: %s\n' "$FUNCTION_URL"
REGISTER_URL=$FUNCTION_URL
if has_mode id-token; then
  audiences=$(get_env AUTH_AUDIENCES || true)
  if [[ -n $audiences && ",$audiences," != *",$FUNCTION_URL,"* ]]; then
    # Dialogflow's token would carry this URL as audience, which the service would refuse.
    IFS=, read -r -a audience_list <<<"$audiences"
    REGISTER_URL=${audience_list[0]}
    printf 'Register one of these URLs with Dialogflow (the ID-token audiences the service accepts):\n'
    printf '  %s\n' "${audience_list[@]}"
  fi
fi
printf 'Next: python -m tools.register webhook --agent projects/%s/locations/LOCATION/agents/AGENT_ID --uri %s\n' \
  "$PROJECT" "$REGISTER_URL"
