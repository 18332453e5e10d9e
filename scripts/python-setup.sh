#!/usr/bin/env bash
# Sets up the Python servers only: `scripts/setup.sh python` (see there). Kept so that existing
# instructions still work.
exec "$(dirname "$0")/setup.sh" python
