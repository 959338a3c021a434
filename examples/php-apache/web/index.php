<?php
// Config vars reach PHP through the environment (getenv): DEIS_APP is set by the platform.
header('Content-Type: text/plain; charset=utf-8');
$app = getenv('DEIS_APP') ?: 'php-apache';
echo "Hello from PHP $app\n";
echo 'PHP ', PHP_VERSION, ' on ', php_sapi_name(), ', ', $_SERVER['SERVER_SOFTWARE'] ?? 'a web server', "\n";
