from vrouter.v1 import generate

generate()
