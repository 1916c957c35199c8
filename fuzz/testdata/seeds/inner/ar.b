!<arch>
passwd/         1709380800  0     0     100644  26        `
root:x:0:0::/root:/bin/sh
hello/          1709380800  0     0     100755  17        `
#!/bin/sh
echo b

