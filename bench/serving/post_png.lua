-- wrk script: POST the PNG named by the PNG environment variable.
local file = assert(io.open(os.getenv("PNG"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "image/png"
