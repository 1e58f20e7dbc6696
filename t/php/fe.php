<?php
// php.t's script, served through mod_proxy_fcgi and PHP-FPM.
// t/run-apache-test.sh copies it to t/htdocs/fe/php/fe.php.
//   GET  ?sleep=MS   sleeps MS milliseconds (at most 10 s) first
//   POST             answers with the length and MD5 of the request body
// The GET answer has a fixed length (ab counts a varying length as a failure).
$ms = isset($_GET['sleep']) ? (int)$_GET['sleep'] : 0;
if ($ms > 0) {
    usleep(min($ms, 10000) * 1000);
}
header('Content-Type: text/plain');
header('X-FE-SAPI: ' . php_sapi_name());
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $body = file_get_contents('php://input');
    echo "FE-PHP-OK POST ", strlen($body), " ", md5($body), "\n";
} else {
    echo "FE-PHP-OK GET\n";
}
