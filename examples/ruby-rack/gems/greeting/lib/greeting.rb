module Greeting
  def self.for(app)
    "Hello from Ruby #{app}\n"
  end
end
