#!/bin/sh
# Can PYTHON build the course's virtual environment? `make` runs this before it installs anything.
#
#     sh scripts/check_python.sh PYTHON VENV TARGET
#
# PYTHON must be Python >= 3.11 with its venv module (pyproject's requires-python); if not, one line says
# which interpreter to pass instead (`make PYTHON=python3.11 TARGET`) and the exit status is 1. A VENV left by
# an older Python, or one whose interpreter no longer runs, is removed, so that make builds it again.
python="$1"; venv="$2"; target="${3:-setup}"
need_major=3; need_minor=11

version_of() {   # "3.11" for a working interpreter, nothing otherwise
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

new_enough() {   # is version $1 at least 3.11?
    major="${1%%.*}"; minor="${1#*.}"
    [ -n "$1" ] && { [ "$major" -gt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -ge "$need_minor" ]; }; }
}

if [ -e "$venv/bin/python" ]; then
    built_by="$(version_of "$venv/bin/python")"
    if ! new_enough "$built_by" || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        echo "note: $venv was built by Python ${built_by:-that no longer runs} (or without pip): removing it to build it again"
        rm -rf "$venv"
    fi
fi

version="$(version_of "$python")"
if new_enough "$version"; then
    if "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        exit 0
    fi
    echo "SFT Lab: $python (Python $version) lacks its venv module: install it (Debian/Ubuntu: sudo apt install python$version-venv), then run make $target again"
    exit 1
fi

if [ -n "$version" ]; then found="Python $version"
elif command -v "$python" >/dev/null 2>&1; then found="an interpreter that does not run"
else found="not found"; fi
# Which newer Python is here already? Name it in the fix.
for candidate in python3.14 python3.13 python3.12 python3.11; do
    if new_enough "$(version_of "$candidate")"; then
        echo "SFT Lab needs Python >= $need_major.$need_minor, but $python is $found: run  make PYTHON=$candidate $target"
        exit 1
    fi
done
echo "SFT Lab needs Python >= $need_major.$need_minor, but $python is $found: install Python 3.11 or newer (python.org, conda, pyenv or your package manager), then run  make PYTHON=python3.11 $target"
exit 1
