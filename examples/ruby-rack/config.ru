require "greeting"

run lambda { |_env| [200, { "content-type" => "text/plain" }, [Greeting.for(ENV["DEIS_APP"])]] }
