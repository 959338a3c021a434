<?php
// Checks an app's composer.json (and composer.lock) against the stack's PHP before composer runs,
// so that the common mistakes fail with one clear line instead of a solver dump.
// Uses the libraries composer itself is made of (Debian's composer packages in the build image).
//
// usage: php inspect.php check DIR      exit 1 with " !     ..." lines when the app cannot build here
//        php inspect.php packages DIR   the non-platform packages composer.json requires, one a line
//        php inspect.php extensions DIR the extensions the app and its locked packages require, one a line
//        php inspect.php script DIR NAME  exit 0 when composer.json defines the script NAME
// composer.json's syntax is checked before this runs (bin/compile): here it is known to be JSON.

require '/usr/share/php/Composer/autoload.php';

use Composer\Package\Locker;
use Composer\Repository\PlatformRepository;
use Composer\Semver\Semver;

function fail(array $lines): void
{
    foreach ($lines as $line) {
        fwrite(STDOUT, " !     $line\n");
    }
    exit(1);
}

function read_json(string $path): array
{
    $data = json_decode(file_get_contents($path), true);
    if (!is_array($data) || array_is_list($data) && $data !== []) {
        fail([basename($path) . ' must hold a JSON object']);
    }
    return $data;
}

// The requirements of a "require"-style section, checked to be an object of name => constraint strings.
function requirements(array $data, string $section, string $file): array
{
    $require = $data[$section] ?? [];
    if (!is_array($require) || array_is_list($require) && $require !== []) {
        fail(["$file: \"$section\" must be an object of package names to version constraints"]);
    }
    foreach ($require as $name => $constraint) {
        if (!is_string($constraint)) {
            fail(["$file: \"$section\".\"$name\" must be a version constraint string"]);
        }
    }
    return $require;
}

// Extension names as composer's platform repository spells them (ext-zend-opcache for "Zend OPcache").
function loaded_extensions(): array
{
    return array_map(fn ($name) => strtolower(str_replace(' ', '-', $name)), get_loaded_extensions());
}

function read_lock(string $dir): ?array
{
    if (!is_file("$dir/composer.lock")) {
        return null;
    }
    $lock = json_decode(file_get_contents("$dir/composer.lock"), true);
    if (!is_array($lock)) {
        fail(['composer.lock is not valid JSON: ' . json_last_error_msg(),
              'Run `composer update` and commit the new composer.lock']);
    }
    return $lock;
}

// Extensions the app and its locked packages need (name => who needs it).
function needed_extensions(array $require, ?array $lock): array
{
    $needed = [];
    $packages = array_merge([['name' => 'composer.json', 'require' => $require]], $lock['packages'] ?? []);
    foreach ($packages as $package) {
        foreach (array_keys($package['require'] ?? []) as $name) {
            if (str_starts_with(strtolower($name), 'ext-')) {
                $needed[strtolower(substr($name, 4))][] = $package['name'] ?? '?';
            }
        }
    }
    return $needed;
}

function check(string $dir): void
{
    $composer = read_json("$dir/composer.json");
    $require = requirements($composer, 'require', 'composer.json');
    requirements($composer, 'require-dev', 'composer.json');
    $stack = sprintf('%d.%d.%d', PHP_MAJOR_VERSION, PHP_MINOR_VERSION, PHP_RELEASE_VERSION);

    if (isset($require['php'])) {
        try {
            $ok = Semver::satisfies($stack, $require['php']);
        } catch (UnexpectedValueException $e) {
            fail(['composer.json: "require"."php" is not a valid version constraint: ' . $e->getMessage()]);
        }
        if (!$ok) {
            fail(["composer.json requires php {$require['php']}; this stack has PHP $stack",
                  'Change "require"."php" in composer.json to a constraint PHP ' . $stack . ' satisfies (e.g. "^8.2")']);
        }
    }

    $lock = read_lock($dir);
    $needed = needed_extensions($require, $lock);
    $missing = [];
    $loaded = loaded_extensions();
    foreach ($needed as $extension => $by) {
        if (!in_array($extension, $loaded, true)) {
            $missing[] = "ext-$extension (required by " . implode(', ', array_unique($by)) . ')';
        }
    }
    if ($missing) {
        sort($loaded);
        fail(array_merge(
            array_map(fn ($m) => "$m: PHP $stack of this stack does not have this extension", $missing),
            ['Extensions available: ' . implode(' ', $loaded)]
        ));
    }

    // composer install only warns about a stale lock file and then installs what it locked:
    // the app would run with dependencies its composer.json no longer asks for.
    if ($lock !== null) {
        $hash = Locker::getContentHash(file_get_contents("$dir/composer.json"));
        if (($lock['content-hash'] ?? null) !== $hash) {
            fail(['composer.lock does not match composer.json (it was made for an earlier composer.json)',
                  'Run `composer update` and commit both composer.json and composer.lock']);
        }
    }
}

function packages(string $dir): void
{
    $composer = read_json("$dir/composer.json");
    foreach (array_keys(requirements($composer, 'require', 'composer.json')) as $name) {
        if (!PlatformRepository::isPlatformPackage($name)) {
            echo "$name\n";
        }
    }
}

function extensions(string $dir): void
{
    $require = requirements(read_json("$dir/composer.json"), 'require', 'composer.json');
    foreach (array_keys(needed_extensions($require, read_lock($dir))) as $name) {
        echo "$name\n";
    }
}

[$command, $dir] = [$argv[1] ?? '', $argv[2] ?? '.'];
match ($command) {
    'check' => check($dir),
    'packages' => packages($dir),
    'extensions' => extensions($dir),
    'script' => exit(isset(read_json("$dir/composer.json")['scripts'][$argv[3] ?? '']) ? 0 : 1),
    default => fail(["inspect.php: unknown command '$command'"]),
};
