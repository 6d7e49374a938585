\ For testing REQUIRED etc

1+
