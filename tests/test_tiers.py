#!/usr/bin/env python3
"""test_tiers.py — no file of controller/ includes a header of a higher tier.

The tiers (docs/architecture.md), low to high:

    base < func < fmi < py < library < sim < results < wire < {daemon, batch < plot}
        < cli

daemon and batch are side by side: neither includes the other; plot sits
on batch (a batch's figures read its document) and cli on everything.
The compiler already refuses an upward include, because each tier's
include path shows only itself and the tiers below (controller/<tier>/
meson.build); this check says the same on the sources, with file:line,
before anything is compiled, and fails on what the build cannot see: a
folder of controller/ that is no tier, a header whose name two tiers
share (includes are flat, #include "errors.h"), a tier that may include
a tier that is not there.

Every header is mapped to its folder: the .h files in it and the files
its meson.build makes with configure_file (twin_paths.h in library/).  A
quoted include of a name found in no tier (twin_model.h, the plugin
header) is not the controller's and is left alone.

The unit tests are held to the same rule: tests/unit/<tier>/ tests
controller/<tier>/ and includes no header of a higher tier (its
test_*.c files link that tier alone, tests/unit/meson.build).

Usage: test_tiers.py [CONTROLLER_DIR [UNIT_DIR]]
       test_tiers.py --self-check [CONTROLLER_DIR]
(defaults: controller/ and tests/unit/ of the tree this file is in)
The self-check runs the check on a copy of the tree, clean (it must pass)
and with an upward include planted (it must fail and name the line).
Exit status: 0 when every include keeps to the tiers, 1 when one does not.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

# What each tier may include, besides itself.
BELOW = {
    'base': [],
    'func': ['base'],
    'fmi': ['func', 'base'],
    'py': ['fmi', 'func', 'base'],
    'library': ['py', 'fmi', 'func', 'base'],
    'sim': ['library', 'py', 'fmi', 'func', 'base'],
    'results': ['sim', 'library', 'py', 'fmi', 'func', 'base'],
    'wire': ['results', 'sim', 'library', 'py', 'fmi', 'func', 'base'],
    'daemon': ['wire', 'results', 'sim', 'library', 'py', 'fmi', 'func', 'base'],
    'batch': ['wire', 'results', 'sim', 'library', 'py', 'fmi', 'func', 'base'],
    'plot': ['batch', 'wire', 'results', 'sim', 'library', 'py', 'fmi', 'func', 'base'],
    'cli': ['daemon', 'plot', 'batch', 'wire', 'results', 'sim', 'library',
            'py', 'fmi', 'func', 'base'],
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
CONFIGURED = re.compile(r"configure_file\s*\((?:[^)]*?)output\s*:\s*'([^']+)'",
                        re.S)


def tier_folders(top, problems):
    """The tier folders under top as (tier, path); a folder that is no
    tier goes to problems."""
    folders = []
    for tier in sorted(os.listdir(top)):
        path = os.path.join(top, tier)
        if not os.path.isdir(path):
            continue
        if tier not in BELOW:
            problems.append('%s: a folder that is no tier (tiers: %s)'
                            % (path, ', '.join(BELOW)))
            continue
        folders.append((tier, path))
    return folders


def headers_of(controller, problems):
    """{header name: tier} of the tier folders under controller."""
    where = {}
    for tier, path in tier_folders(controller, problems):
        names = [f for f in os.listdir(path) if f.endswith('.h')]
        build = os.path.join(path, 'meson.build')
        if os.path.exists(build):
            with open(build, encoding='utf-8') as f:
                names += CONFIGURED.findall(f.read())
        for name in names:
            if name in where and where[name] != tier:
                problems.append('%s: header name in two tiers, %s and %s'
                                % (name, where[name], tier))
            where[name] = tier
    for tier, below in BELOW.items():
        for t in below:
            if t not in BELOW:
                problems.append('tier %s may include %s, which is no tier'
                                % (tier, t))
    return where


def check(controller, unit=None):
    """Every upward include under controller (and the unit tests' tier
    folders under unit), as 'file:line: ...' lines."""
    problems = []
    where = headers_of(controller, problems)
    folders = tier_folders(controller, [])
    if unit:
        folders += tier_folders(unit, problems)
    for tier, path in folders:
        allowed = set(BELOW[tier]) | {tier}
        for name in sorted(os.listdir(path)):
            if not name.endswith(('.c', '.h')):
                continue
            file = os.path.join(path, name)
            with open(file, encoding='utf-8', errors='replace') as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    header = m.group(1)
                    other = where.get(os.path.basename(header))
                    if '/' in header and other:
                        problems.append('%s:%d: #include "%s": includes are '
                                        'flat (#include "%s")'
                                        % (file, n, header,
                                           os.path.basename(header)))
                    elif other and other not in allowed:
                        problems.append('%s:%d: #include "%s" is %s\'s; '
                                        '%s may include only %s'
                                        % (file, n, header, other, tier,
                                           ', '.join([tier] + BELOW[tier])))
    return problems


def self_check(controller):
    """The check passes on a copy of the tree and fails on a planted
    upward include, naming its file and line."""
    with tempfile.TemporaryDirectory(prefix='twin-tiers.') as tmp:
        copy = os.path.join(tmp, 'controller')
        shutil.copytree(controller, copy)
        me = [sys.executable, os.path.abspath(__file__), copy]
        clean = subprocess.run(me, capture_output=True, text=True)
        if clean.returncode != 0:
            print('self-check: the clean copy fails:\n' + clean.stdout
                  + clean.stderr)
            return 1
        # base/util.c including the daemon's serve.h: the worst direction.
        victim = os.path.join(copy, 'base', 'util.c')
        with open(victim, encoding='utf-8') as f:
            lines = f.readlines()
        at = next(i for i, l in enumerate(lines) if INCLUDE.match(l)) + 1
        lines.insert(at, '#include "serve.h"\n')
        with open(victim, 'w', encoding='utf-8') as f:
            f.writelines(lines)
        planted = subprocess.run(me, capture_output=True, text=True)
        want = '%s:%d: #include "serve.h" is daemon\'s' % (victim, at + 1)
        if planted.returncode != 1 or want not in planted.stdout:
            print('self-check: a planted upward include was not reported '
                  '(status %d, wanted "%s"):\n%s%s'
                  % (planted.returncode, want, planted.stdout,
                     planted.stderr))
            return 1
        # A folder that is no tier.
        os.mkdir(os.path.join(copy, 'misc'))
        stray = subprocess.run(me, capture_output=True, text=True)
        if stray.returncode != 1 or 'a folder that is no tier' not in stray.stdout:
            print('self-check: a folder that is no tier was not reported:\n'
                  + stray.stdout + stray.stderr)
            return 1
    print('self-check: a clean tree passes; an upward include and a '
          'folder that is no tier fail')
    return 0


def main(argv):
    args = argv[1:]
    selftest = bool(args) and args[0] == '--self-check'
    if selftest:
        args = args[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    controller = args[0] if args else os.path.join(here, '..', 'controller')
    unit = args[1] if len(args) > 1 else (None if args else
                                          os.path.join(here, 'unit'))
    if selftest:
        return self_check(controller)
    problems = check(controller, unit)
    for p in problems:
        print(p)
    if problems:
        print('%d problem(s) with the tiers (docs/architecture.md)'
              % len(problems))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
