<?php
namespace Example;

// Loaded through composer's autoloader, which the build generates (vendor/autoload.php).
final class Greeting
{
    public static function for(string $app): string
    {
        return "Hello from PHP $app\n";
    }
}
