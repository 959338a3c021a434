<?php
require __DIR__ . '/../vendor/autoload.php';

header('Content-Type: text/plain; charset=utf-8');
// Config vars reach PHP through the environment (getenv): DEIS_APP is set by the platform.
echo Example\Greeting::for(getenv('DEIS_APP') ?: 'php-nginx');
echo 'PHP ', PHP_VERSION, ' on ', php_sapi_name(), ', ', $_SERVER['SERVER_SOFTWARE'] ?? 'a web server', "\n";
